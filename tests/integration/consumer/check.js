#!/usr/bin/env node
"use strict";
// Checks what the consumer left behind in a queue seeded by seed.js. Two commands:
//
//   node check.js end QUEUE EXPECTED --metrics FILE [--stop-state FILE]
//
// The end state after the consumer has drained the queue:
// - Cosmos DB (read with @azure/cosmos) contains exactly one document per good message, with
//   the right fields, and nothing else;
// - every message was completed exactly once and every redelivery has a cause. FILE is the
//   /metrics text of the last consumer run, taken once the queue was empty (lib.sh takes it).
//   Upserts by id never create a second document, so duplicates show in two other places.
//   One is the run's completion count. The other is the deliveryCount of each document:
//   1 for a first delivery, plus one for every abandon or lock expiry before it;
// - the dead-letter subqueue (peeked with @azure/service-bus) contains exactly the poison
//   messages, each with its DeadLetterReason and a description;
// - the queue itself is empty.
// With --stop-state, the messages that an earlier run completed must keep the document that
// run wrote, and only the messages left in the queue count for the last run.
//
//   node check.js stopped QUEUE EXPECTED STATE [--unlocked] [--consumer-log FILE]
//
// The state right after a consumer run was stopped part way, written to STATE for `end`:
// - every good message is still in the queue or has its document (nothing is lost), and no
//   good message is dead-lettered;
// - with --unlocked, no message is locked: all of them can be received now. The check
//   receives every message in peek-lock mode and abandons it, which adds one to its
//   delivery count, so use it only on a queue whose lock outlasts the check and whose
//   MaxDeliveryCount leaves room for it;
// - with --consumer-log, each failed delivery is an abandon in that log: a message in the
//   queue has as many as its delivery count, and a completed one one fewer than its
//   document's deliveryCount. That holds for one run on a fresh queue whose locks cannot
//   expire during the run.
//
// Prints every mismatch and exits 1 when there is one, 2 on bad usage.
// Environment: EMULATOR_CONNECTION_STRING, EMULATOR_HTTP_PORT, COSMOS_ENDPOINT, COSMOS_KEY,
// COSMOS_CA_FILE, COSMOS_DATABASE, COSMOS_CONTAINER.

const fs = require("fs");
const { ServiceBusClient } = require("@azure/service-bus");
const { cosmosContainer } = require("../../lib/azure_clients");

const STAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/;
const USAGE =
  "usage: node check.js end QUEUE EXPECTED --metrics FILE [--stop-state FILE]\n" +
  "       node check.js stopped QUEUE EXPECTED STATE [--unlocked] [--consumer-log FILE]\n";
// How long a peek-lock receive waits for the next message. Only a wrong state (a message
// still locked) makes the check wait this long.
const RECEIVE_WAIT_MS = 5000;
const failures = [];

function fail(text) {
  failures.push(text);
}

function usage(message) {
  process.stderr.write(`check: ${message}\n${USAGE}`);
  process.exit(2);
}

// Splits argv into positional arguments and the options named in `flags` (true for an
// option that takes a value, false for a switch).
function parseArgs(argv, flags) {
  const positional = [];
  const options = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    if (!(arg in flags)) usage(`unknown option ${arg}`);
    if (flags[arg]) {
      if (i + 1 >= argv.length) usage(`missing value after ${arg}`);
      options[arg] = argv[++i];
    } else {
      options[arg] = true;
    }
  }
  return { positional, options };
}

// ---- Reading the peers ----

async function readDocuments() {
  const container = cosmosContainer();
  const { resources } = await container.items
    .query("SELECT * FROM c", { maxItemCount: 10000 })
    .fetchAll();
  return resources;
}

// Every message in the queue (or its dead-letter subqueue), locked or not, without
// changing any of them.
async function peekAll(client, queue, subQueueType) {
  const receiver = client.createReceiver(queue, subQueueType ? { subQueueType } : {});
  const messages = [];
  try {
    for (;;) {
      const batch = await receiver.peekMessages(500);
      if (batch.length === 0) break;
      messages.push(...batch);
    }
  } finally {
    await receiver.close();
  }
  return messages;
}

// The maximum number of unsettled messages that one receiver keeps. rhea (the AMQP library
// under @azure/service-bus 7.9.5) keeps each unsettled delivery in a 2048-entry buffer per
// session and offers only the free entries as the session's incoming window. A receiver with
// 2048 unsettled messages therefore gets no further transfer, the SDK's drain at the end of
// receiveMessages times out, and the SDK replaces the link. Abandoning a message of the old
// link then waits for a disposition that is never sent, so the check hung on long queues.
// Each receiver has its own link in its own session, so more receivers lift the limit.
const UNSETTLED_PER_RECEIVER = 2000;

// Receives up to `limit` messages in peek-lock mode, then abandons them all. A locked
// message is not delivered, so fewer than `limit` means that some were locked. Abandoning
// only after the last receive keeps an abandoned message from coming back to this check.
async function receiveAndAbandon(client, queue, limit) {
  const receivers = [];
  const received = [];
  try {
    let queueHasMore = true;
    while (queueHasMore && received.length < limit) {
      const receiver = client.createReceiver(queue, { receiveMode: "peekLock" });
      const unsettled = [];
      receivers.push({ receiver, unsettled });
      const cap = Math.min(UNSETTLED_PER_RECEIVER, limit - received.length);
      while (unsettled.length < cap) {
        const batch = await receiver.receiveMessages(Math.min(500, cap - unsettled.length), {
          maxWaitTimeInMs: RECEIVE_WAIT_MS,
        });
        if (batch.length === 0) {
          queueHasMore = false;
          break;
        }
        unsettled.push(...batch);
      }
      received.push(...unsettled);
    }
    for (const { receiver, unsettled } of receivers) {
      for (let i = 0; i < unsettled.length; i += 100) {
        await Promise.all(unsettled.slice(i, i + 100).map((m) => receiver.abandonMessage(m)));
      }
    }
  } finally {
    for (const { receiver } of receivers) await receiver.close();
  }
  return received;
}

// The header's delivery-count: deliveries that failed so far (abandons, lock expiries).
// AMQP leaves it out when it is 0.
function deliveryCountOf(message) {
  return message.deliveryCount || 0;
}

async function activeCount(queue) {
  const url = `http://127.0.0.1:${process.env.EMULATOR_HTTP_PORT}/${queue}?api-version=2021-05`;
  const text = await (await fetch(url)).text();
  const match = text.match(/ActiveMessageCount>(\d+)</);
  if (!match) throw new Error(`no ActiveMessageCount in ${text.slice(0, 200)}`);
  return Number(match[1]);
}

// Reads the unlabelled counters of a Prometheus text exposition. A missing counter is an
// error, because reading it as 0 would let the checks below pass without evidence.
function readMetrics(path) {
  const names = {
    received: "consumer_messages_received_total",
    completed: "consumer_messages_completed_total",
    abandoned: "consumer_messages_abandoned_total",
    deadLettered: "consumer_messages_dead_lettered_total",
    locksLost: "consumer_locks_lost_total",
    reconnects: "consumer_reconnects_total",
  };
  const values = new Map();
  for (const line of fs.readFileSync(path, "utf8").split("\n")) {
    const [name, value] = line.trim().split(/\s+/);
    if (name && !name.startsWith("#") && value !== undefined) values.set(name, Number(value));
  }
  const metrics = {};
  for (const [key, name] of Object.entries(names)) {
    if (!values.has(name)) throw new Error(`${path} has no ${name}`);
    metrics[key] = values.get(name);
  }
  return metrics;
}

// Counts the consumer's "message-abandoned" log lines, by message id.
function abandonsInLog(path) {
  const counts = new Map();
  for (const line of fs.readFileSync(path, "utf8").split("\n")) {
    if (!line.includes('"event":"message-abandoned"')) continue;
    const match = JSON.parse(line).msg.match(/^message (\S+) abandoned/);
    if (match) counts.set(match[1], (counts.get(match[1]) || 0) + 1);
  }
  return counts;
}

// ---- The end state ----

function checkDocumentFields(good, document) {
  const id = good.id;
  if (document.data !== good.msg) fail(`${id}: data ${JSON.stringify(document.data)}`);
  if (document.srcStamp !== good.srcStamp) fail(`${id}: srcStamp ${document.srcStamp}`);
  if (!STAMP.test(document.destStamp)) fail(`${id}: destStamp ${document.destStamp}`);
  if (typeof document.messageProcessingTime !== "number" || document.messageProcessingTime < 0)
    fail(`${id}: messageProcessingTime ${document.messageProcessingTime}`);
  if (!Number.isInteger(document.sequenceNumber))
    fail(`${id}: sequenceNumber ${document.sequenceNumber}`);
  if (typeof document.enqueuedTime !== "string" || Number.isNaN(Date.parse(document.enqueuedTime)))
    fail(`${id}: enqueuedTime ${document.enqueuedTime}`);
  if (!Number.isInteger(document.deliveryCount) || document.deliveryCount < 1)
    fail(`${id}: deliveryCount ${document.deliveryCount}`);
}

// Checks one document per good message and returns them by id.
function checkDocuments(expected, documents) {
  const byId = new Map(documents.map((document) => [document.id, document]));
  const found = new Map();
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
    found.set(good.id, document);
    checkDocumentFields(good, document);
  }
  for (const id of byId.keys()) {
    fail(`unexpected document ${id}`);
  }
  return found;
}

// The stop state of a queue that no consumer has touched: every message is still in it and
// has never been delivered.
function freshState(expected) {
  const messages = {};
  for (const good of expected.good) messages[good.id] = { inQueue: true, firstDeliveryCount: 1 };
  return {
    messages,
    remainingGood: expected.good.length,
    remainingPoison: expected.poison.length,
  };
}

// Messages that an earlier run completed keep that run's document, unchanged: a second
// write would mean a second delivery of a completed message.
function checkCompletedEarlier(state, documents) {
  for (const [id, entry] of Object.entries(state.messages)) {
    const document = documents.get(id);
    if (entry.inQueue || !document) continue;
    if (document.deliveryCount !== entry.deliveryCount)
      fail(`${id}: completed before the stop with deliveryCount ${entry.deliveryCount}, now ${document.deliveryCount}`);
    if (document.destStamp !== entry.destStamp)
      fail(`${id}: completed before the stop, but its document was written again at ${document.destStamp}`);
  }
}

// Checks the last run's counters against the documents of the messages it had to process.
// Each redelivery comes from an abandon or an expired lock. A cut connection can also
// redeliver a message whose completion never reached Service Bus. So the counts are exact
// unless the run lost a lock or reconnected.
function checkLastRun(state, documents, metrics) {
  let extraDeliveries = 0;
  for (const [id, entry] of Object.entries(state.messages)) {
    const document = documents.get(id);
    if (!entry.inQueue || !document) continue;
    if (document.deliveryCount < entry.firstDeliveryCount)
      fail(`${id}: deliveryCount ${document.deliveryCount}, expected at least ${entry.firstDeliveryCount}`);
    else extraDeliveries += document.deliveryCount - entry.firstDeliveryCount;
  }
  const summary =
    `last run: completed ${metrics.completed}, received ${metrics.received}, ` +
    `abandoned ${metrics.abandoned}, dead-lettered ${metrics.deadLettered}, ` +
    `locks lost ${metrics.locksLost}, reconnects ${metrics.reconnects}; ` +
    `${extraDeliveries} redeliveries seen in documents`;
  process.stdout.write(`${summary}\n`);

  const exact = metrics.locksLost === 0 && metrics.reconnects === 0;
  if (!exact) {
    // A completion can be lost with its lock or connection and then repeated.
    if (metrics.completed < state.remainingGood)
      fail(`the last run completed ${metrics.completed} messages, expected at least ${state.remainingGood}`);
    return;
  }
  if (metrics.completed !== state.remainingGood)
    fail(`the last run completed ${metrics.completed} messages, expected ${state.remainingGood}: a message was completed twice or not at all`);
  if (metrics.deadLettered !== state.remainingPoison)
    fail(`the last run dead-lettered ${metrics.deadLettered} messages, expected ${state.remainingPoison}`);
  const deliveries = state.remainingGood + state.remainingPoison + metrics.abandoned;
  if (metrics.received !== deliveries)
    fail(`the last run received ${metrics.received} messages, expected ${deliveries} (one per message plus one per abandon)`);
  // The write of the final delivery is the last one: an abandoned delivery has no write
  // in progress, because the writer abandons a job only between attempts.
  if (extraDeliveries !== metrics.abandoned)
    fail(`documents show ${extraDeliveries} redeliveries, but the last run abandoned ${metrics.abandoned} messages and lost no lock`);
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

async function checkEnd(argv) {
  const { positional, options } = parseArgs(argv, { "--metrics": true, "--stop-state": true });
  const [queue, expectedPath] = positional;
  if (!queue || !expectedPath || positional.length !== 2) usage("end needs QUEUE and EXPECTED");
  if (!options["--metrics"]) usage("end needs --metrics FILE");
  const expected = JSON.parse(fs.readFileSync(expectedPath, "utf8"));
  const state = options["--stop-state"]
    ? JSON.parse(fs.readFileSync(options["--stop-state"], "utf8"))
    : freshState(expected);
  const metrics = readMetrics(options["--metrics"]);

  const documents = checkDocuments(expected, await readDocuments());
  checkCompletedEarlier(state, documents);
  checkLastRun(state, documents, metrics);
  const active = await activeCount(queue);
  if (active !== 0) fail(`the queue still holds ${active} active messages`);
  const client = new ServiceBusClient(process.env.EMULATOR_CONNECTION_STRING);
  try {
    checkDeadLetters(expected, await peekAll(client, queue, "deadLetter"));
  } finally {
    await client.close();
  }
  return `${expected.good.length} documents, ${expected.poison.length} dead-lettered, queue empty`;
}

// ---- The state after a stop ----

// Without lock expiries, each failed delivery of a message is one abandon in the log. So a
// message in the queue has a delivery count equal to its abandons, and a completed message
// has a document whose deliveryCount is one more than that.
function checkAbandons(abandons, expected, queued, documents) {
  const inQueue = new Set();
  for (const message of queued) {
    const id = String(message.messageId);
    const count = deliveryCountOf(message);
    const logged = abandons.get(id) || 0;
    inQueue.add(id);
    if (count !== logged)
      fail(`${id} is in the queue with delivery count ${count}, but the log shows ${logged} abandons`);
  }
  for (const good of expected.good) {
    const document = documents.get(good.id);
    if (inQueue.has(good.id) || !document) continue;
    const logged = abandons.get(good.id) || 0;
    if (document.deliveryCount !== logged + 1)
      fail(`${good.id} was completed with deliveryCount ${document.deliveryCount}, but the log shows ${logged} abandons`);
  }
}

async function checkStopped(argv) {
  const { positional, options } = parseArgs(argv, { "--unlocked": false, "--consumer-log": true });
  const [queue, expectedPath, statePath] = positional;
  if (!queue || !expectedPath || !statePath || positional.length !== 3)
    usage("stopped needs QUEUE, EXPECTED and STATE");
  const expected = JSON.parse(fs.readFileSync(expectedPath, "utf8"));
  const documents = new Map((await readDocuments()).map((document) => [document.id, document]));
  const client = new ServiceBusClient(process.env.EMULATOR_CONNECTION_STRING);
  let queued;
  let deadLettered;
  let received = null;
  try {
    queued = await peekAll(client, queue);
    deadLettered = await peekAll(client, queue, "deadLetter");
    if (options["--unlocked"]) received = await receiveAndAbandon(client, queue, queued.length);
  } finally {
    await client.close();
  }

  const inQueue = new Map(queued.map((message) => [String(message.messageId), message]));
  const deadIds = new Set(deadLettered.map((message) => String(message.messageId)));
  const poisonIds = new Set(expected.poison.map((poison) => poison.id));
  if (received !== null && received.length !== queued.length)
    fail(`${queued.length - received.length} of ${queued.length} messages in the queue are still locked`);
  const abandonedByCheck = received !== null;

  const state = { messages: {}, remainingGood: 0, remainingPoison: 0 };
  let storedNotCompleted = 0;
  let redelivered = 0;
  for (const good of expected.good) {
    const message = inQueue.get(good.id);
    const document = documents.get(good.id);
    if (deadIds.has(good.id)) fail(`good message ${good.id} is dead-lettered`);
    if (message) {
      // The next delivery has the delivery count plus one, plus the abandon of this check.
      const count = deliveryCountOf(message) + 1 + (abandonedByCheck ? 1 : 0);
      state.messages[good.id] = { inQueue: true, firstDeliveryCount: count };
      state.remainingGood++;
      if (document) storedNotCompleted++;
      continue;
    }
    if (!document) {
      fail(`message ${good.id} left the queue without a document`);
      continue;
    }
    state.messages[good.id] = {
      inQueue: false,
      deliveryCount: document.deliveryCount,
      destStamp: document.destStamp,
    };
  }
  for (const message of queued) {
    const id = String(message.messageId);
    if (poisonIds.has(id)) state.remainingPoison++;
    if (deliveryCountOf(message) > 0) redelivered++;
  }

  if (options["--consumer-log"]) {
    checkAbandons(abandonsInLog(options["--consumer-log"]), expected, queued, documents);
  }

  state.summary = {
    queued: queued.length,
    redelivered,
    storedNotCompleted,
    locked: received === null ? null : queued.length - received.length,
  };
  fs.writeFileSync(statePath, JSON.stringify(state));
  return (
    `${queued.length} messages in the queue (${redelivered} delivered before, ` +
    `${storedNotCompleted} stored but not completed), ` +
    (received === null ? "locks not checked" : `${queued.length - received.length} locked`)
  );
}

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  let summary;
  if (command === "end") summary = await checkEnd(rest);
  else if (command === "stopped") summary = await checkStopped(rest);
  else usage(`unknown command ${command}`);

  for (const text of failures.slice(0, 50)) process.stdout.write(`FAIL ${text}\n`);
  if (failures.length > 0) {
    process.stdout.write(`${failures.length} mismatches\n`);
    process.exit(1);
  }
  process.stdout.write(`ok: ${summary}\n`);
}

main().catch((error) => {
  process.stderr.write(`check: ${error.stack || error}\n`);
  process.exit(1);
});
