#!/usr/bin/env node
"use strict";
// Checks the end state after the consumer has drained a queue seeded by seed.js:
// - Cosmos DB (read with @azure/cosmos) holds exactly one document per good message, with
//   the right fields, and nothing else;
// - the dead-letter subqueue (read with @azure/service-bus) holds exactly the poison
//   messages, each with its DeadLetterReason and a description;
// - the queue itself is empty.
// Prints every mismatch and exits 1 when there is one.
//
//   node check.js QUEUE EXPECTED
// Environment: EMULATOR_CONNECTION_STRING, EMULATOR_HTTP_PORT, COSMOS_ENDPOINT, COSMOS_KEY,
// COSMOS_CA_FILE, COSMOS_DATABASE, COSMOS_CONTAINER.

const fs = require("fs");
const https = require("https");
const { CosmosClient } = require("@azure/cosmos");
const { ServiceBusClient } = require("@azure/service-bus");

const STAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/;
const failures = [];

function fail(text) {
  failures.push(text);
}

async function readDocuments() {
  const agent = new https.Agent({ ca: fs.readFileSync(process.env.COSMOS_CA_FILE) });
  const client = new CosmosClient({
    endpoint: process.env.COSMOS_ENDPOINT,
    key: process.env.COSMOS_KEY,
    agent,
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  const container = client
    .database(process.env.COSMOS_DATABASE)
    .container(process.env.COSMOS_CONTAINER);
  const { resources } = await container.items
    .query("SELECT * FROM c", { maxItemCount: 10000 })
    .fetchAll();
  return resources;
}

function checkDocuments(expected, documents) {
  const byId = new Map();
  for (const document of documents) {
    if (byId.has(document.id)) {
      fail(`document ${document.id} appears twice`);
    }
    byId.set(document.id, document);
  }
  if (documents.length !== expected.good.length) {
    fail(`Cosmos holds ${documents.length} documents, expected ${expected.good.length}`);
  }
  for (const good of expected.good) {
    const document = byId.get(good.id);
    if (!document) {
      fail(`no document for message ${good.id}`);
      continue;
    }
    byId.delete(good.id);
    if (document.data !== good.msg) fail(`${good.id}: data ${JSON.stringify(document.data)}`);
    if (document.srcStamp !== good.srcStamp) fail(`${good.id}: srcStamp ${document.srcStamp}`);
    if (!STAMP.test(document.destStamp)) fail(`${good.id}: destStamp ${document.destStamp}`);
    if (typeof document.messageProcessingTime !== "number" || document.messageProcessingTime < 0)
      fail(`${good.id}: messageProcessingTime ${document.messageProcessingTime}`);
    if (!Number.isInteger(document.sequenceNumber))
      fail(`${good.id}: sequenceNumber ${document.sequenceNumber}`);
    if (typeof document.enqueuedTime !== "string" || Number.isNaN(Date.parse(document.enqueuedTime)))
      fail(`${good.id}: enqueuedTime ${document.enqueuedTime}`);
    if (!Number.isInteger(document.deliveryCount) || document.deliveryCount < 1)
      fail(`${good.id}: deliveryCount ${document.deliveryCount}`);
  }
  for (const id of byId.keys()) {
    fail(`unexpected document ${id}`);
  }
}

async function readDeadLetters(client, queue) {
  const receiver = client.createReceiver(queue, {
    subQueueType: "deadLetter",
    receiveMode: "receiveAndDelete",
  });
  const messages = [];
  try {
    for (;;) {
      const batch = await receiver.receiveMessages(100, { maxWaitTimeInMs: 1000 });
      if (batch.length === 0) break;
      messages.push(...batch);
    }
  } finally {
    await receiver.close();
  }
  return messages;
}

function checkDeadLetters(expected, messages) {
  const byId = new Map(messages.map((message) => [String(message.messageId), message]));
  if (messages.length !== expected.poison.length) {
    fail(`the dead-letter subqueue holds ${messages.length} messages, expected ${expected.poison.length}`);
  }
  for (const poison of expected.poison) {
    const message = byId.get(poison.id);
    if (!message) {
      fail(`poison message ${poison.id} (${poison.reason}) is not dead-lettered`);
      continue;
    }
    byId.delete(poison.id);
    if (message.deadLetterReason !== poison.reason)
      fail(`${poison.id}: DeadLetterReason ${message.deadLetterReason}, expected ${poison.reason}`);
    if (!message.deadLetterErrorDescription)
      fail(`${poison.id}: no DeadLetterErrorDescription`);
  }
  for (const id of byId.keys()) {
    fail(`unexpected dead-lettered message ${id}`);
  }
}

async function activeCount(queue) {
  const url = `http://127.0.0.1:${process.env.EMULATOR_HTTP_PORT}/${queue}?api-version=2021-05`;
  const text = await (await fetch(url)).text();
  const match = text.match(/ActiveMessageCount>(\d+)</);
  if (!match) throw new Error(`no ActiveMessageCount in ${text.slice(0, 200)}`);
  return Number(match[1]);
}

async function main() {
  const [queue, expectedPath] = process.argv.slice(2);
  if (!queue || !expectedPath) {
    process.stderr.write("usage: node check.js QUEUE EXPECTED\n");
    process.exit(2);
  }
  const expected = JSON.parse(fs.readFileSync(expectedPath, "utf8"));

  checkDocuments(expected, await readDocuments());
  const active = await activeCount(queue);
  if (active !== 0) fail(`the queue still holds ${active} active messages`);
  const client = new ServiceBusClient(process.env.EMULATOR_CONNECTION_STRING);
  try {
    checkDeadLetters(expected, await readDeadLetters(client, queue));
  } finally {
    await client.close();
  }

  for (const text of failures.slice(0, 50)) process.stdout.write(`FAIL ${text}\n`);
  if (failures.length > 0) {
    process.stdout.write(`${failures.length} mismatches\n`);
    process.exit(1);
  }
  process.stdout.write(
    `ok: ${expected.good.length} documents, ${expected.poison.length} dead-lettered, queue empty\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`check: ${error.stack || error}\n`);
  process.exit(1);
});
