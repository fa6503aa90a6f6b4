// Receives the producer's messages with the official Node SDK (@azure/service-bus) and checks
// each one: content type application/json, a UUID message-id never seen before (or, with
// --allow-duplicates, counted as a duplicate), and a body {"msg": "Scale Test Message : COUNT n",
// "srcStamp": "YYYY-MM-DD HH:MM:SS.ffffff"}. Prints one JSON summary line and exits 0 only when
// every COUNT from 1 to --expect arrived and nothing broke the schema.
//
//   node receive.js --connection-string CS --queue Q --expect N
//                   [--exact] [--allow-duplicates] [--timeout-s 120] [--settle-s 2]
//
// --exact keeps receiving for --settle-s seconds after the N-th message to catch extras, and
// then fails when more than N messages arrived, unless --allow-duplicates lets copies through.
"use strict";

const { ServiceBusClient } = require("@azure/service-bus");

function parseArguments(argv) {
  const options = { exact: false, allowDuplicates: false, timeoutS: 120, settleS: 2 };
  for (let i = 2; i < argv.length; i++) {
    const name = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${name} needs a value`);
      return argv[++i];
    };
    if (name === "--connection-string") options.connectionString = value();
    else if (name === "--queue") options.queue = value();
    else if (name === "--expect") options.expect = Number(value());
    else if (name === "--timeout-s") options.timeoutS = Number(value());
    else if (name === "--settle-s") options.settleS = Number(value());
    else if (name === "--exact") options.exact = true;
    else if (name === "--allow-duplicates") options.allowDuplicates = true;
    else throw new Error(`unknown argument ${name}`);
  }
  if (!options.connectionString || !options.queue || !Number.isInteger(options.expect)) {
    throw new Error("usage: receive.js --connection-string CS --queue Q --expect N");
  }
  return options;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MSG = /^Scale Test Message : COUNT ([1-9][0-9]*)$/;
const STAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/;

async function main() {
  const options = parseArguments(process.argv);
  const seenIds = new Set();
  const countsSeen = new Map(); // COUNT -> times received
  const problems = [];
  let received = 0;
  let duplicateIds = 0;
  let completeAt = 0;

  const check = (message) => {
    received++;
    const problem = (text) => {
      if (problems.length < 20) problems.push(`${message.messageId}: ${text}`);
    };
    if (message.contentType !== "application/json") problem(`content type ${message.contentType}`);
    if (typeof message.messageId !== "string" || !UUID.test(message.messageId)) {
      problem("message-id is not a UUID string");
    }
    if (seenIds.has(message.messageId)) duplicateIds++;
    seenIds.add(message.messageId);
    const body = message.body;
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      problem(`body is not a JSON object: ${JSON.stringify(body)}`);
      return;
    }
    const keys = Object.keys(body).filter((key) => key !== "pad").sort();
    if (keys.join(",") !== "msg,srcStamp") problem(`body fields ${keys.join(",")}`);
    const match = typeof body.msg === "string" ? MSG.exec(body.msg) : null;
    if (!match) {
      problem(`msg ${JSON.stringify(body.msg)}`);
      return;
    }
    if (typeof body.srcStamp !== "string" || !STAMP.test(body.srcStamp)) {
      problem(`srcStamp ${JSON.stringify(body.srcStamp)}`);
    }
    const count = Number(match[1]);
    if (count > options.expect) problem(`COUNT ${count} is above ${options.expect}`);
    countsSeen.set(count, (countsSeen.get(count) || 0) + 1);
  };

  const client = new ServiceBusClient(options.connectionString, {
    retryOptions: { maxRetries: 20, retryDelayInMs: 500, maxRetryDelayInMs: 2000 },
  });
  const receiver = client.createReceiver(options.queue, { receiveMode: "receiveAndDelete" });
  const deadline = Date.now() + options.timeoutS * 1000;
  try {
    for (;;) {
      const now = Date.now();
      if (now >= deadline) break;
      if (countsSeen.size >= options.expect && completeAt === 0) completeAt = now;
      if (completeAt !== 0 && (!options.exact || now - completeAt >= options.settleS * 1000)) break;
      let messages = [];
      try {
        messages = await receiver.receiveMessages(500, { maxWaitTimeInMs: 500 });
      } catch (error) {
        // The emulator restart test stops the peer on purpose; the SDK reconnects.
        if (problems.length < 20) problems.push(`receive error (retried): ${error.code || error.message}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      messages.forEach(check);
    }
  } finally {
    await receiver.close().catch(() => {});
    await client.close().catch(() => {});
  }

  const missing = [];
  for (let count = 1; count <= options.expect && missing.length < 20; count++) {
    if (!countsSeen.has(count)) missing.push(count);
  }
  let duplicateCounts = 0;
  for (const times of countsSeen.values()) duplicateCounts += times - 1;
  const schemaProblems = problems.filter((text) => !text.startsWith("receive error"));
  const ok =
    missing.length === 0 &&
    schemaProblems.length === 0 &&
    (options.allowDuplicates || (duplicateIds === 0 && duplicateCounts === 0)) &&
    (!options.exact || options.allowDuplicates || received === options.expect);
  console.log(
    JSON.stringify({
      ok,
      received,
      distinct_counts: countsSeen.size,
      distinct_ids: seenIds.size,
      duplicate_counts: duplicateCounts,
      duplicate_ids: duplicateIds,
      missing_first: missing,
      problems,
    }),
  );
  process.exit(ok ? 0 : 1);
}

main().catch((error) => {
  console.error(`receive.js: ${error.stack || error}`);
  process.exit(1);
});
