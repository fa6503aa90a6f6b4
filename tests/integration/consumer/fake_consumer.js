#!/usr/bin/env node
"use strict";
// Stands in for the consumer, right or wrong, so that checker.sh can make the states that
// check.js must accept or reject. It receives in peek-lock mode with @azure/service-bus and
// writes documents in the consumer's format with @azure/cosmos.
//
//   node fake_consumer.js drain QUEUE EXPECTED
//       Stores and completes every good message and dead-letters the poison ones.
//   node fake_consumer.js complete QUEUE COUNT [--no-document]
//       Stores and completes COUNT messages, or completes them without a document.
//   node fake_consumer.js abandon QUEUE COUNT
//       Abandons COUNT messages and prints their ids.
//   node fake_consumer.js lock QUEUE COUNT
//       Receives COUNT messages and leaves them locked. Closing a receiver keeps its locks.
//   node fake_consumer.js rewrite ID
//       Writes the document of ID again with deliveryCount + 1, as a second delivery would.
// Environment: as check.js.

const fs = require("fs");
const { ServiceBusClient } = require("@azure/service-bus");
const { cosmosContainer } = require("../../lib/azure_clients");
const { formatStamp } = require("../../lib/stamp");

const RECEIVE_WAIT_MS = 5000;

function usage(message) {
  process.stderr.write(`fake_consumer: ${message}\n`);
  process.exit(2);
}

// The consumer's document for `message` (see consumer/document.c).
function documentOf(message) {
  return {
    id: String(message.messageId),
    data: message.body.msg,
    srcStamp: message.body.srcStamp,
    destStamp: formatStamp(new Date()),
    messageProcessingTime: 0.001,
    sequenceNumber: Number(message.sequenceNumber),
    enqueuedTime: message.enqueuedTimeUtc.toISOString(),
    deliveryCount: (message.deliveryCount || 0) + 1,
  };
}

// Receives exactly `count` messages, or every message when `count` is Infinity.
async function receive(receiver, count) {
  const messages = [];
  while (messages.length < count) {
    const batch = await receiver.receiveMessages(Math.min(100, count - messages.length), {
      maxWaitTimeInMs: RECEIVE_WAIT_MS,
    });
    if (batch.length === 0) break;
    messages.push(...batch);
  }
  if (count !== Infinity && messages.length !== count) {
    throw new Error(`received ${messages.length} messages, expected ${count}`);
  }
  return messages;
}

async function settle(command, queue, argument, noDocument) {
  const client = new ServiceBusClient(process.env.EMULATOR_CONNECTION_STRING);
  const receiver = client.createReceiver(queue, { receiveMode: "peekLock" });
  try {
    if (command === "drain") {
      const expected = JSON.parse(fs.readFileSync(argument, "utf8"));
      const reasons = new Map(expected.poison.map((poison) => [poison.id, poison.reason]));
      for (const message of await receive(receiver, Infinity)) {
        const reason = reasons.get(String(message.messageId));
        if (reason) {
          await receiver.deadLetterMessage(message, {
            deadLetterReason: reason,
            deadLetterErrorDescription: "dead-lettered by fake_consumer.js",
          });
          continue;
        }
        await cosmosContainer().items.upsert(documentOf(message));
        await receiver.completeMessage(message);
      }
      return;
    }
    const messages = await receive(receiver, Number(argument));
    for (const message of messages) {
      if (command === "complete") {
        if (!noDocument) await cosmosContainer().items.upsert(documentOf(message));
        await receiver.completeMessage(message);
      } else if (command === "abandon") {
        await receiver.abandonMessage(message);
        process.stdout.write(`${message.messageId}\n`);
      }
    }
  } finally {
    await receiver.close();
    await client.close();
  }
}

async function rewrite(id) {
  const items = cosmosContainer();
  const { resource } = await items.item(id, id).read();
  if (!resource) throw new Error(`document ${id} not found`);
  resource.deliveryCount += 1;
  resource.destStamp = formatStamp(new Date(Date.now() + 1000));
  await items.items.upsert(resource);
}

async function main() {
  const [command, first, second, ...rest] = process.argv.slice(2);
  if (command === "rewrite") {
    if (!first) usage("rewrite needs ID");
    await rewrite(first);
    return;
  }
  if (!["drain", "complete", "abandon", "lock"].includes(command)) usage(`unknown command ${command}`);
  if (!first || !second) usage(`${command} needs QUEUE and ${command === "drain" ? "EXPECTED" : "COUNT"}`);
  const noDocument = rest.includes("--no-document");
  await settle(command, first, second, noDocument);
}

main().catch((error) => {
  process.stderr.write(`fake_consumer: ${error.stack || error}\n`);
  process.exit(1);
});
