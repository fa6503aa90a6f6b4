#!/usr/bin/env node
"use strict";
// Seeds a queue with message-ids that cannot be a Cosmos DB document id unchanged, and then
// checks with the official SDKs what the consumer made of them.
//
//   node message_ids.js seed QUEUE EXPECTED    send the messages, write what must happen
//   node message_ids.js check QUEUE EXPECTED   compare Cosmos DB and the dead-letter subqueue
//
// A string id with NUL must not be stored under the text before the NUL, where it would
// overwrite the document of the message whose id is that text. Ids with '/', '\', '?' or '#'
// must not be written, because Cosmos DB does not allow these characters in ids. Both kinds
// are dead-lettered with InvalidMessageId and a description that names the cause. A
// numeric id and the string of its digits share one document, as docs/CONSUMER.md states.
// `check` prints every mismatch and exits 1 when there is one.
// Environment: EMULATOR_CONNECTION_STRING, COSMOS_ENDPOINT, COSMOS_KEY, COSMOS_CA_FILE,
// COSMOS_DATABASE and COSMOS_CONTAINER.

const fs = require("fs");
const crypto = require("crypto");
const { ServiceBusClient } = require("@azure/service-bus");
const { cosmosContainer, takeDeadLetters } = require("../../lib/azure_clients");

const STAMP = "2026-12-04 06:14:27.123456";

function body(msg) {
  return { msg, srcStamp: STAMP };
}

async function seed(queue, expectedPath) {
  const unique = crypto.randomUUID().slice(0, 8);
  const prefix = `p1-idnul-${unique}`;
  // A safe integer that no other run of this test is likely to use.
  const number = 1e12 + crypto.randomInt(1e9);
  const expected = {
    // Each stored document: its id and the "msg" it must contain.
    stored: [
      { id: prefix, msg: "the id without NUL" },
      { id: String(number), msgs: ["numeric id", "string of the same digits"] },
    ],
    // Each dead-lettered message: its id and a text its description must contain.
    dead: [
      { id: `${prefix}\u0000x`, described: "contains NUL at byte offset" },
      { id: `\u0000${unique}`, described: "contains NUL at byte offset 0" },
      { id: `order/${unique}`, described: "contains '/' at byte offset 5" },
      { id: `order\\${unique}`, described: "contains '\\' at byte offset 5" },
      { id: `order?${unique}`, described: "contains '?' at byte offset 5" },
      { id: `order#${unique}`, described: "contains '#' at byte offset 5" },
    ],
  };
  const messages = [
    { messageId: prefix, body: body("the id without NUL") },
    { messageId: number, body: body("numeric id") },
    { messageId: String(number), body: body("string of the same digits") },
  ];
  for (const dead of expected.dead) {
    messages.push({ messageId: dead.id, body: body(`dead ${JSON.stringify(dead.id)}`) });
  }

  const client = new ServiceBusClient(process.env.EMULATOR_CONNECTION_STRING);
  const sender = client.createSender(queue);
  try {
    // One message at a time, so that the NUL id is received after the id it must not replace.
    for (const message of messages) {
      await sender.sendMessages(message);
    }
  } finally {
    await sender.close();
    await client.close();
  }
  expected.total = messages.length;
  fs.writeFileSync(expectedPath, JSON.stringify(expected));
}

async function checkDocuments(expected, failures) {
  const container = cosmosContainer();
  const { resources } = await container.items.query("SELECT * FROM c").fetchAll();
  const ids = resources.map((document) => document.id);

  if (resources.length !== expected.stored.length) {
    failures.push(
      `Cosmos contains ${resources.length} documents, expected ${expected.stored.length}: ` +
        JSON.stringify(ids),
    );
  }
  for (const stored of expected.stored) {
    const name = JSON.stringify(stored.id);
    const matches = resources.filter((document) => document.id === stored.id);
    if (matches.length !== 1) {
      failures.push(`${matches.length} documents with the id ${name}, expected 1`);
      continue;
    }
    const allowed = stored.msgs || [stored.msg];
    if (!allowed.includes(matches[0].data)) {
      failures.push(`${name}: data ${JSON.stringify(matches[0].data)}, expected ${allowed}`);
    }
  }
  for (const dead of expected.dead) {
    if (ids.includes(dead.id)) {
      failures.push(`a document was stored for the id ${JSON.stringify(dead.id)}`);
    }
  }
}

async function checkDeadLetters(queue, expected, failures) {
  const messages = await takeDeadLetters(queue);

  const byId = new Map(messages.map((message) => [String(message.messageId), message]));
  for (const dead of expected.dead) {
    const name = JSON.stringify(dead.id);
    const message = byId.get(dead.id);
    if (!message) {
      failures.push(`the message with the id ${name} is not dead-lettered`);
      continue;
    }
    byId.delete(dead.id);
    if (message.deadLetterReason !== "InvalidMessageId") {
      failures.push(`${name}: DeadLetterReason ${message.deadLetterReason}`);
    }
    const description = message.deadLetterErrorDescription || "";
    if (!description.includes(dead.described)) {
      failures.push(`${name}: description ${JSON.stringify(description)} lacks ${dead.described}`);
    }
  }
  for (const [id, message] of byId) {
    failures.push(`unexpected dead letter ${JSON.stringify(id)}: ${message.deadLetterReason}`);
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
    `ok: ${expected.stored.length} documents, ${expected.dead.length} dead-lettered\n`,
  );
}

async function main() {
  const [command, queue, expectedPath] = process.argv.slice(2);
  if (!["seed", "check"].includes(command) || !queue || !expectedPath) {
    process.stderr.write("usage: node message_ids.js seed|check QUEUE EXPECTED\n");
    process.exit(2);
  }
  await (command === "seed" ? seed(queue, expectedPath) : check(queue, expectedPath));
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
