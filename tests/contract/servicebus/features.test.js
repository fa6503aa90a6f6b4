// Queue features from Config.json: time-to-live, duplicate detection, and the admin counts.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { createClient, purge, countDetails, sleep } = require("./helpers.js");

test("expired message moves to the dead-letter subqueue", async () => {
  // short-ttl: DefaultMessageTimeToLive PT2S, DeadLetteringOnMessageExpiration true.
  const client = createClient();
  try {
    await purge(client, "short-ttl", { subQueueType: "deadLetter" });
    const sender = client.createSender("short-ttl");
    await sender.sendMessages({ body: "stale", messageId: "ttl-1" });
    await sender.close();
    assert.equal((await countDetails("short-ttl")).active, 1);

    await sleep(3000);
    const receiver = client.createReceiver("short-ttl");
    const live = await receiver.receiveMessages(1, { maxWaitTimeInMs: 500 });
    await receiver.close();
    assert.equal(live.length, 0, "an expired message was delivered");

    const deadLetters = client.createReceiver("short-ttl", { subQueueType: "deadLetter" });
    const [dead] = await deadLetters.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    assert.ok(dead, "the expired message is not on the dead-letter subqueue");
    assert.equal(dead.messageId, "ttl-1");
    assert.equal(dead.deadLetterReason, "TTLExpiredException");
    await deadLetters.completeMessage(dead);
    await deadLetters.close();
  } finally {
    await client.close();
  }
});

test("message time-to-live shorter than the queue's expires the message", async () => {
  const client = createClient();
  try {
    await purge(client, "orders");
    const sender = client.createSender("orders");
    await sender.sendMessages({ body: "brief", messageId: "ttl-2", timeToLive: 1000 });
    await sender.close();
    await sleep(2000);
    // orders does not dead-letter on expiry, so the message is gone.
    assert.deepEqual(await countDetails("orders"), { active: 0, deadLetter: 0 });
  } finally {
    await client.close();
  }
});

test("duplicate detection drops a repeated message-id", async () => {
  // dedup: RequiresDuplicateDetection true, DuplicateDetectionHistoryTimeWindow PT1M.
  const client = createClient();
  try {
    await purge(client, "dedup");
    const sender = client.createSender("dedup");
    await sender.sendMessages({ body: "first", messageId: "same-id" });
    await sender.sendMessages({ body: "second", messageId: "same-id" });
    await sender.sendMessages({ body: "other", messageId: "other-id" });
    await sender.close();
    const receiver = client.createReceiver("dedup", { receiveMode: "receiveAndDelete" });
    const messages = await receiver.receiveMessages(10, { maxWaitTimeInMs: 1000 });
    await receiver.close();
    assert.deepEqual(messages.map((m) => m.body).sort(), ["first", "other"]);
  } finally {
    await client.close();
  }
});

test("queue description counts active and dead-lettered messages", async () => {
  const client = createClient();
  try {
    await purge(client, "test-queue");
    await purge(client, "test-queue", { subQueueType: "deadLetter" });
    const sender = client.createSender("test-queue");
    await sender.sendMessages([{ body: "a" }, { body: "b" }, { body: "c" }]);
    await sender.close();
    const receiver = client.createReceiver("test-queue");
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    await receiver.deadLetterMessage(message, { deadLetterReason: "counted" });
    await receiver.close();
    assert.deepEqual(await countDetails("test-queue"), { active: 2, deadLetter: 1 });
    await purge(client, "test-queue");
    await purge(client, "test-queue", { subQueueType: "deadLetter" });
  } finally {
    await client.close();
  }
});

test("missing queue returns 200 with an empty feed", async () => {
  const response = await fetch(
    `http://127.0.0.1:${process.env.EMULATOR_HTTP_PORT}/no-such-queue?api-version=2021-05`,
  );
  assert.equal(response.status, 200);
  const text = await response.text();
  assert.match(text, /^<feed xmlns="http:\/\/www.w3.org\/2005\/Atom">/);
  assert.doesNotMatch(text, /QueueDescription/);
});

test("health endpoint reports healthy", async () => {
  const response = await fetch(`http://127.0.0.1:${process.env.EMULATOR_HTTP_PORT}/health`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: "healthy" });
});

// Service Bus checks a deferred message's time-to-live only when a client receives it by
// sequence number, and then dead-letters it (message deferral docs on learn.microsoft.com).
test("expired deferred message waits for its receive", async () => {
  // short-ttl: DefaultMessageTimeToLive PT2S, DeadLetteringOnMessageExpiration true.
  const client = createClient();
  try {
    await purge(client, "short-ttl");
    await purge(client, "short-ttl", { subQueueType: "deadLetter" });
    const sender = client.createSender("short-ttl");
    await sender.sendMessages({ body: "set aside", messageId: "ttl-deferred-1" });
    await sender.close();
    const receiver = client.createReceiver("short-ttl");
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    assert.ok(message, "no message was received");
    await receiver.deferMessage(message);

    await sleep(3000);
    assert.deepEqual(await countDetails("short-ttl"), { active: 1, deadLetter: 0 },
      "the deferred message expired before anyone tried to receive it");
    await assert.rejects(receiver.receiveDeferredMessages([message.sequenceNumber]), (error) => {
      assert.equal(error.code, "MessageNotFound", `unexpected error ${error.code}: ${error.message}`);
      return true;
    });
    await receiver.close();
    assert.deepEqual(await countDetails("short-ttl"), { active: 0, deadLetter: 1 });

    const deadLetters = client.createReceiver("short-ttl", { subQueueType: "deadLetter" });
    const [dead] = await deadLetters.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    assert.ok(dead, "the expired deferred message is not on the dead-letter subqueue");
    assert.equal(dead.messageId, "ttl-deferred-1");
    assert.equal(dead.deadLetterReason, "TTLExpiredException");
    await deadLetters.completeMessage(dead);
    await deadLetters.close();
  } finally {
    await client.close();
  }
});
