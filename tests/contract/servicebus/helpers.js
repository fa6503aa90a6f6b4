// Shared setup for the Node contract tests: clients built from the environment that run.sh
// exports, queue purging between tests, and the HTTP queue counts that KEDA reads.
"use strict";

const { ServiceBusClient } = require("@azure/service-bus");

const connectionString = process.env.EMULATOR_CONNECTION_STRING;
if (!connectionString) {
  throw new Error("EMULATOR_CONNECTION_STRING is not set: run these tests through run.sh");
}

// Short retries keep a failing check from hanging the suite.
const retryOptions = { maxRetries: 1, retryDelayInMs: 200, timeoutInMs: 10000 };

function createClient(overrideConnectionString) {
  return new ServiceBusClient(overrideConnectionString || connectionString, { retryOptions });
}

// Removes every message from `queue` (or its dead-letter subqueue) with receive-and-delete.
async function purge(client, queue, options = {}) {
  const receiver = client.createReceiver(queue, { ...options, receiveMode: "receiveAndDelete" });
  try {
    for (;;) {
      const messages = await receiver.receiveMessages(100, { maxWaitTimeInMs: 300 });
      if (messages.length === 0) {
        return;
      }
    }
  } finally {
    await receiver.close();
  }
}

// Reads CountDetails from the emulator's HTTP side, as the admin API returns them.
async function countDetails(queue) {
  const response = await fetch(
    `http://127.0.0.1:${process.env.EMULATOR_HTTP_PORT}/${queue}?api-version=2021-05`,
  );
  const text = await response.text();
  const read = (name) => {
    const match = text.match(new RegExp(`<d2p1:${name}>(\\d+)</d2p1:${name}>`));
    if (!match) {
      throw new Error(`no ${name} in the queue description: ${text.slice(0, 200)}`);
    }
    return Number(match[1]);
  };
  return { active: read("ActiveMessageCount"), deadLetter: read("DeadLetterMessageCount") };
}

// Reads ScheduledMessageCount from the emulator's HTTP side.
async function scheduledCount(queue) {
  const response = await fetch(
    `http://127.0.0.1:${process.env.EMULATOR_HTTP_PORT}/${queue}?api-version=2021-05`,
  );
  const match = (await response.text()).match(
    /<d2p1:ScheduledMessageCount>(\d+)<\/d2p1:ScheduledMessageCount>/,
  );
  if (!match) {
    throw new Error(`no ScheduledMessageCount in the description of ${queue}`);
  }
  return Number(match[1]);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

module.exports = { connectionString, createClient, purge, countDetails, scheduledCount, sleep };
