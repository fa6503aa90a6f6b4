#!/usr/bin/env node
"use strict";
// Seeds a queue with the official Service Bus SDK: COUNT good messages and one of each poison
// kind, and writes what the consumer must make of them to EXPECTED (JSON):
//   {"good": [{"id", "msg", "srcStamp"}...], "poison": [{"id", "reason"}...]}
// With MSG_BYTES, the msg of each good message is padded with "x" to that many characters.
//
//   node seed.js QUEUE COUNT EXPECTED [MSG_BYTES]   (EMULATOR_CONNECTION_STRING names the namespace)

const fs = require("fs");
const crypto = require("crypto");
const { ServiceBusClient } = require("@azure/service-bus");
const { formatStamp } = require("../../lib/stamp");

// Each poison message with the DeadLetterReason the consumer must give it.
function poisonMessages() {
  return [
    { reason: "InvalidJson", body: Buffer.from("this is not JSON {") },
    { reason: "NotAnObject", body: [1, 2, 3] },
    { reason: "MissingField", body: { msg: "no stamp here" } },
    { reason: "InvalidStamp", body: { msg: "bad stamp", srcStamp: "2026-12-04T06:14:27Z" } },
    { reason: "InvalidFieldType", body: { msg: 42, srcStamp: formatStamp(new Date()) } },
    {
      reason: "InvalidUtf8",
      body: Buffer.concat([Buffer.from('{"msg": "'), Buffer.from([0xc3, 0x28]), Buffer.from('", "srcStamp": "2026-12-04 06:14:27.123456"}')]),
    },
  ];
}

async function main() {
  const [queue, countText, expectedPath, msgBytesText = "0"] = process.argv.slice(2);
  const count = Number(countText);
  const msgBytes = Number(msgBytesText);
  if (!queue || !Number.isInteger(count) || !expectedPath || !Number.isInteger(msgBytes)) {
    process.stderr.write("usage: node seed.js QUEUE COUNT EXPECTED [MSG_BYTES]\n");
    process.exit(2);
  }

  const client = new ServiceBusClient(process.env.EMULATOR_CONNECTION_STRING);
  const sender = client.createSender(queue);
  const expected = { good: [], poison: [] };
  const messages = [];

  for (let i = 0; i < count; i++) {
    const text = `Scale Test Message : COUNT ${i}`;
    const msg = msgBytes > text.length ? `${text} `.padEnd(msgBytes, "x") : text;
    const body = { msg, srcStamp: formatStamp(new Date()) };
    const id = crypto.randomUUID();
    expected.good.push({ id, msg: body.msg, srcStamp: body.srcStamp });
    messages.push({ messageId: id, body, contentType: "application/json" });
  }
  for (const poison of poisonMessages()) {
    const id = crypto.randomUUID();
    expected.poison.push({ id, reason: poison.reason });
    messages.push({ messageId: id, body: poison.body });
  }

  try {
    let batch = await sender.createMessageBatch();
    for (const message of messages) {
      if (!batch.tryAddMessage(message)) {
        await sender.sendMessages(batch);
        batch = await sender.createMessageBatch();
        if (!batch.tryAddMessage(message)) {
          throw new Error(`message ${message.messageId} does not fit in an empty batch`);
        }
      }
    }
    if (batch.count > 0) {
      await sender.sendMessages(batch);
    }
  } finally {
    await sender.close();
    await client.close();
  }
  fs.writeFileSync(expectedPath, JSON.stringify(expected));
  process.stdout.write(`seeded ${expected.good.length} good and ${expected.poison.length} poison messages\n`);
}

main().catch((error) => {
  process.stderr.write(`seed: ${error.stack || error}\n`);
  process.exit(1);
});
