#!/usr/bin/env node
"use strict";
// Sends valid messages to a queue and peeks their delivery counts, with @azure/service-bus.
//
//   node delivery_counts.js send QUEUE COUNT   sends COUNT messages with ids QUEUE-1..QUEUE-COUNT
//   node delivery_counts.js peek QUEUE         prints one line per message in the queue:
//                                              "MESSAGE_ID DELIVERY_COUNT", in sequence order
//
// Peeking locks nothing and changes no delivery count. The SDK reports the AMQP header's
// delivery-count as it is: 0 for a message that no delivery has failed yet.
// Environment: EMULATOR_CONNECTION_STRING.

const { ServiceBusClient } = require("@azure/service-bus");
const { formatStamp } = require("../../lib/stamp");

const USAGE = "usage: node delivery_counts.js send QUEUE COUNT | peek QUEUE\n";

async function send(client, queue, count) {
  const sender = client.createSender(queue);
  try {
    const messages = [];
    for (let i = 1; i <= count; i++) {
      messages.push({
        messageId: `${queue}-${i}`,
        contentType: "application/json",
        body: { msg: `Scale Test Message : COUNT ${i}`, srcStamp: formatStamp(new Date()) },
      });
    }
    await sender.sendMessages(messages);
  } finally {
    await sender.close();
  }
}

async function peek(client, queue) {
  const receiver = client.createReceiver(queue);
  try {
    // Each peek continues after the last message that this receiver peeked.
    for (;;) {
      const batch = await receiver.peekMessages(100);
      if (batch.length === 0) break;
      for (const message of batch) {
        process.stdout.write(`${message.messageId} ${message.deliveryCount}\n`);
      }
    }
  } finally {
    await receiver.close();
  }
}

async function main() {
  const [command, queue, countText] = process.argv.slice(2);
  const count = Number(countText);
  if (!queue || (command === "send" && !(Number.isInteger(count) && count > 0))) {
    process.stderr.write(USAGE);
    process.exit(2);
  }
  if (command !== "send" && command !== "peek") {
    process.stderr.write(`delivery_counts: unknown command ${command}\n${USAGE}`);
    process.exit(2);
  }
  const client = new ServiceBusClient(process.env.EMULATOR_CONNECTION_STRING);
  try {
    if (command === "send") {
      await send(client, queue, count);
    } else {
      await peek(client, queue);
    }
  } finally {
    await client.close();
  }
}

main().catch((error) => {
  process.stderr.write(`delivery_counts: ${error.stack || error}\n`);
  process.exit(1);
});
