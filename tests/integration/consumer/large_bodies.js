#!/usr/bin/env node
"use strict";
// Seeds a queue with bodies close to the queue's 256 KiB message limit, and then checks with
// the official SDKs that the consumer stored each one exactly.
//
//   node large_bodies.js seed QUEUE EXPECTED    send the messages, write their digests
//   node large_bodies.js check QUEUE EXPECTED   compare Cosmos DB and the dead-letter subqueue
//
// The strict test server returns the whole stored document in its response to each upsert, so
// every response here is far longer than the consumer's 1 KiB receive buffer and takes many
// reads.
// `check` prints every mismatch and exits 1 when there is one.
// Environment: EMULATOR_CONNECTION_STRING, COSMOS_ENDPOINT, COSMOS_KEY, COSMOS_CA_FILE,
// COSMOS_DATABASE and COSMOS_CONTAINER.

const fs = require("fs");
const crypto = require("crypto");
const { ServiceBusClient } = require("@azure/service-bus");
const { cosmosContainer, takeDeadLetters } = require("../../lib/azure_clients");

const STAMP = "2026-12-04 06:14:27.123456";

// Repeats `unit` until the text has `bytes` bytes of UTF-8, or just under.
function fill(unit, bytes) {
  return unit.repeat(Math.floor(bytes / Buffer.byteLength(unit)));
}

function digest(text) {
  return crypto.createHash("sha256").update(text, "utf8").digest("hex");
}

async function seed(queue, expectedPath) {
  const unique = crypto.randomUUID().slice(0, 8);
  const cases = [
    // ASCII up to the limit, less room for the JSON around it and the AMQP properties.
    { name: "ascii", data: fill("0123456789abcdef", 250000) },
    // Two-, three- and four-byte UTF-8 characters, so that reads end inside a character.
    { name: "multibyte", data: fill("é€😀", 240000) },
    // Characters that JSON escapes: each takes two to six bytes in the body and the response.
    { name: "escaped", data: fill('"\\\n\t\u0001/', 40000) },
  ];
  const expected = { stored: [] };
  const client = new ServiceBusClient(process.env.EMULATOR_CONNECTION_STRING);
  const sender = client.createSender(queue);
  try {
    for (const item of cases) {
      const id = `large-${item.name}-${unique}`;
      await sender.sendMessages({ messageId: id, body: { msg: item.data, srcStamp: STAMP } });
      expected.stored.push({ id, length: item.data.length, sha256: digest(item.data) });
    }
  } finally {
    await sender.close();
    await client.close();
  }
  fs.writeFileSync(expectedPath, JSON.stringify(expected));
}

async function check(queue, expectedPath) {
  const expected = JSON.parse(fs.readFileSync(expectedPath, "utf8"));
  const failures = [];
  const container = cosmosContainer();
  const { resources } = await container.items.query("SELECT * FROM c").fetchAll();

  if (resources.length !== expected.stored.length) {
    const expectedCount = expected.stored.length;
    failures.push(`Cosmos contains ${resources.length} documents, expected ${expectedCount}`);
  }
  for (const stored of expected.stored) {
    const matches = resources.filter((document) => document.id === stored.id);
    if (matches.length !== 1) {
      failures.push(`${matches.length} documents with the id ${stored.id}, expected 1`);
      continue;
    }
    const data = matches[0].data;
    if (typeof data !== "string" || digest(data) !== stored.sha256) {
      const length = typeof data === "string" ? data.length : typeof data;
      failures.push(`${stored.id}: data differs (length ${length}, expected ${stored.length})`);
    }
    if (matches[0].srcStamp !== STAMP) {
      failures.push(`${stored.id}: srcStamp ${JSON.stringify(matches[0].srcStamp)}`);
    }
  }
  for (const message of await takeDeadLetters(queue)) {
    failures.push(`unexpected dead letter ${message.messageId}: ${message.deadLetterReason}`);
  }
  for (const text of failures) process.stdout.write(`FAIL ${text}\n`);
  if (failures.length > 0) {
    process.stdout.write(`${failures.length} mismatches\n`);
    process.exit(1);
  }
  process.stdout.write(`${expected.stored.length} large documents stored exactly\n`);
}

async function main() {
  const [command, queue, expectedPath] = process.argv.slice(2);
  if (!["seed", "check"].includes(command) || !queue || !expectedPath) {
    process.stderr.write("usage: node large_bodies.js seed|check QUEUE EXPECTED\n");
    process.exit(2);
  }
  await (command === "seed" ? seed(queue, expectedPath) : check(queue, expectedPath));
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
