#!/usr/bin/env node
"use strict";
// Seeds a queue with messages whose ids and bodies are hard to carry into Cosmos DB, and then
// checks with the official SDKs what the consumer made of them.
//
//   node cosmos_input.js seed QUEUE EXPECTED    send the messages, write what must happen
//   node cosmos_input.js check QUEUE EXPECTED   compare Cosmos DB and the dead-letter subqueue
//
// Good messages have message-ids and "msg" values with non-ASCII characters of 2, 3 and 4
// UTF-8 bytes, quotes, control characters, DEL and escaped NUL characters. Each must be
// stored exactly once under its exact id with its exact "msg". A point read through
// @azure/cosmos, which sends the partition key header its own way, must find it. Poison
// messages are the JSON inputs that a C string reader would change silently; each must be
// dead-lettered with its reason. `check` prints every mismatch and exits 1 when there is one.
// Environment: EMULATOR_CONNECTION_STRING, COSMOS_ENDPOINT, COSMOS_KEY, COSMOS_CA_FILE,
// COSMOS_DATABASE, COSMOS_CONTAINER, and PARTITION_KEY_FIELD ("id" unless set).

const fs = require("fs");
const crypto = require("crypto");
const { ServiceBusClient } = require("@azure/service-bus");
const { cosmosContainer, takeDeadLetters } = require("../../lib/azure_clients");

const STAMP = "2026-12-04 06:14:27.123456";

function goodMessages() {
  const unique = () => crypto.randomUUID().slice(0, 8);
  return [
    { id: `caf\u00e9-${unique()}`, msg: "two-byte id" },
    { id: `\u20ac\u65e5\u672c-${unique()}`, msg: "three-byte id" },
    { id: `\u{1F600}\u{10FFFF}-${unique()}`, msg: "four-byte id" },
    { id: `quote"-${unique()}`, msg: "quote in the id" },
    { id: `tab\t-del\u007f-${unique()}`, msg: "tab and DEL in the id" },
    { id: `ctl\u0001\u001f-${unique()}`, msg: "control characters in the id" },
    { id: `nul-${unique()}`, msg: "a\u0000b\u0000" },
    { id: `mixed-${unique()}`, msg: "\u0001\u001f\"\\/ caf\u00e9 \u20ac \u{1F600} \u007f \u2028 end" },
    { id: crypto.randomUUID(), msg: "Scale Test Message : COUNT 1" },
  ];
}

// Raw bodies, each with the DeadLetterReason the consumer must give it.
function poisonMessages() {
  const raw = (text) => Buffer.from(text, "utf8");
  return [
    {
      reason: "DuplicateField",
      body: raw(`{"msg": "first", "msg": "second", "srcStamp": "${STAMP}"}`),
    },
    {
      reason: "DuplicateField",
      body: raw(`{"msg": "a", "srcStamp": "${STAMP}", "srcStamp": "${STAMP}"}`),
    },
    { reason: "LoneSurrogate", body: raw(`{"msg": "x\\ud800y", "srcStamp": "${STAMP}"}`) },
    { reason: "LoneSurrogate", body: raw(`{"msg": "\\udc00", "srcStamp": "${STAMP}"}`) },
    { reason: "InvalidJson", body: raw(`{"msg": "a", "srcStamp": "${STAMP}"} trailing`) },
    { reason: "InvalidJson", body: raw(`{"msg": "a", "srcStamp": "${STAMP}", "n": 01}`) },
    { reason: "InvalidJson", body: raw(`{"msg": "tab\there", "srcStamp": "${STAMP}"}`) },
    { reason: "InvalidStamp", body: raw(`{"msg": "a", "srcStamp": "${STAMP}\\u0000"}`) },
  ];
}

async function seed(queue, expectedPath) {
  const expected = { good: [], poison: [] };
  const messages = [];

  for (const good of goodMessages()) {
    // The body is an object, so the SDK sends it as JSON: NUL becomes \u0000 on the wire.
    messages.push({
      messageId: good.id,
      body: { msg: good.msg, srcStamp: STAMP, pad: 12345678901234567890123 },
      contentType: "application/json",
    });
    expected.good.push(good);
  }
  for (const poison of poisonMessages()) {
    const id = crypto.randomUUID();
    messages.push({ messageId: id, body: poison.body });
    expected.poison.push({ id, reason: poison.reason });
  }

  const client = new ServiceBusClient(process.env.EMULATOR_CONNECTION_STRING);
  const sender = client.createSender(queue);
  try {
    await sender.sendMessages(messages);
  } finally {
    await sender.close();
    await client.close();
  }
  fs.writeFileSync(expectedPath, JSON.stringify(expected));
}

async function checkDocuments(expected, failures) {
  const container = cosmosContainer();
  const field = process.env.PARTITION_KEY_FIELD || "id";
  const { resources } = await container.items.query("SELECT * FROM c").fetchAll();
  const byId = new Map();

  for (const document of resources) {
    if (byId.has(document.id)) failures.push(`document ${JSON.stringify(document.id)} appears twice`);
    byId.set(document.id, document);
  }
  if (resources.length !== expected.good.length) {
    failures.push(`Cosmos holds ${resources.length} documents, expected ${expected.good.length}`);
  }
  for (const good of expected.good) {
    const name = JSON.stringify(good.id);
    const document = byId.get(good.id);
    if (!document) {
      failures.push(`no document with the id ${name}; ids stored: ${JSON.stringify([...byId.keys()])}`);
      continue;
    }
    if (document.data !== good.msg) {
      failures.push(`${name}: data ${JSON.stringify(document.data)}, expected ${JSON.stringify(good.msg)}`);
    }
    if (document.srcStamp !== STAMP) failures.push(`${name}: srcStamp ${document.srcStamp}`);

    // A point read sends the partition key header as @azure/cosmos writes it.
    const key = field === "data" ? good.msg : good.id;
    const { resource, statusCode } = await container.item(good.id, key).read();
    if (statusCode !== 200 || !resource || resource.id !== good.id) {
      failures.push(`${name}: point read returned ${statusCode}`);
    }
  }
}

async function checkDeadLetters(queue, expected, failures) {
  const messages = await takeDeadLetters(queue);

  const byId = new Map(messages.map((message) => [String(message.messageId), message]));
  for (const poison of expected.poison) {
    const message = byId.get(poison.id);
    if (!message) {
      failures.push(`poison message ${poison.id} (${poison.reason}) is not dead-lettered`);
      continue;
    }
    byId.delete(poison.id);
    if (message.deadLetterReason !== poison.reason) {
      failures.push(`${poison.id}: DeadLetterReason ${message.deadLetterReason}, expected ${poison.reason}`);
    }
    if (!message.deadLetterErrorDescription) failures.push(`${poison.id}: no DeadLetterErrorDescription`);
  }
  for (const [id, message] of byId) {
    failures.push(
      `unexpected dead-lettered message ${JSON.stringify(id)}: ${message.deadLetterReason}: ` +
        `${message.deadLetterErrorDescription}`,
    );
  }
}

async function check(queue, expectedPath) {
  const expected = JSON.parse(fs.readFileSync(expectedPath, "utf8"));
  const failures = [];

  await checkDocuments(expected, failures);
  await checkDeadLetters(queue, expected, failures);
  for (const text of failures) process.stdout.write(`FAIL ${text}\n`);
  if (failures.length > 0) {
    process.stdout.write(`${failures.length} mismatches\n`);
    process.exit(1);
  }
  process.stdout.write(
    `ok: ${expected.good.length} documents stored exactly, ${expected.poison.length} dead-lettered\n`,
  );
}

async function main() {
  const [command, queue, expectedPath] = process.argv.slice(2);
  if (!["seed", "check"].includes(command) || !queue || !expectedPath) {
    process.stderr.write("usage: node cosmos_input.js seed|check QUEUE EXPECTED\n");
    process.exit(2);
  }
  await (command === "seed" ? seed(queue, expectedPath) : check(queue, expectedPath));
}

main().catch((error) => {
  process.stderr.write(`cosmos_input: ${error.stack || error}\n`);
  process.exit(1);
});
