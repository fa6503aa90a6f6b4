// A message with every common property arrives intact, with the broker's annotations.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { createClient, purge } = require("./helpers.js");

const queue = "orders";

test("message with every common property is received intact in peek-lock", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    const sender = client.createSender(queue);
    const sent = {
      body: { msg: "Scale Test Message : COUNT 42", srcStamp: "2026-12-04 06:14:27.123456" },
      messageId: "8a3c2b6e-0f4d-4c1e-9d7a-5b2e1f0c9a11",
      contentType: "application/json",
      correlationId: "correlation-7",
      subject: "scale-test",
      to: "consumer",
      replyTo: "replies",
      timeToLive: 600000,
      applicationProperties: { count: 42, source: "contract", ratio: 0.5, flag: true },
    };
    const before = Date.now();
    await sender.sendMessages(sent);
    await sender.close();

    const receiver = client.createReceiver(queue);
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    assert.ok(message, "no message was received");
    assert.deepEqual(message.body, sent.body);
    assert.equal(message.messageId, sent.messageId);
    assert.equal(message.contentType, sent.contentType);
    assert.equal(message.correlationId, sent.correlationId);
    assert.equal(message.subject, sent.subject);
    assert.equal(message.to, sent.to);
    assert.equal(message.replyTo, sent.replyTo);
    assert.equal(message.timeToLive, sent.timeToLive);
    assert.deepEqual(message.applicationProperties, sent.applicationProperties);
    assert.equal(message.deliveryCount, 0);
    assert.ok(message.sequenceNumber.toNumber() >= 1, "sequence number missing");
    assert.ok(message.enqueuedTimeUtc instanceof Date, "enqueued time missing");
    assert.ok(message.enqueuedTimeUtc.getTime() >= before - 1000, "enqueued time too early");
    assert.ok(message.lockedUntilUtc instanceof Date, "locked-until missing");
    assert.ok(message.lockedUntilUtc > message.enqueuedTimeUtc, "lock ends before enqueue");
    assert.match(message.lockToken, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    await receiver.completeMessage(message);
    await receiver.close();
  } finally {
    await client.close();
  }
});

test("sequence numbers increase in send order", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    const sender = client.createSender(queue);
    for (let i = 0; i < 3; i++) {
      await sender.sendMessages({ body: `ordered ${i}` });
    }
    await sender.close();
    const receiver = client.createReceiver(queue, { receiveMode: "receiveAndDelete" });
    const messages = [];
    while (messages.length < 3) {
      const got = await receiver.receiveMessages(3 - messages.length, { maxWaitTimeInMs: 3000 });
      assert.ok(got.length > 0, "messages missing");
      messages.push(...got);
    }
    await receiver.close();
    assert.deepEqual(messages.map((m) => m.body), ["ordered 0", "ordered 1", "ordered 2"]);
    const numbers = messages.map((m) => m.sequenceNumber.toNumber());
    assert.ok(numbers[0] < numbers[1] && numbers[1] < numbers[2], `not increasing: ${numbers}`);
    assert.ok(messages.every((m) => typeof m.messageId === "string" && m.messageId.length > 0),
      "the broker did not assign message ids");
  } finally {
    await client.close();
  }
});

// A received message sent again carries the broker's annotations from its first trip. Service
// Bus sets those itself, and a repeated key in the annotations map is invalid AMQP.
test("broker annotations from the sender are replaced", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    const sender = client.createSender(queue);
    await sender.sendMessages({
      body: "sent again",
      bodyType: "value",
      messageAnnotations: {
        "x-opt-sequence-number": 999999,
        "x-opt-enqueued-time": new Date(0),
        "x-opt-locked-until": new Date(0),
        "x-opt-message-state": 1,
        "x-opt-partition-key": "kept",
      },
    });
    await sender.close();

    const receiver = client.createReceiver(queue);
    const [peeked] = await receiver.peekMessages(1);
    assert.ok(peeked, "nothing to peek");
    assert.equal(peeked.state, "active", "the sender's x-opt-message-state was kept");
    assert.equal(peeked.lockedUntilUtc, undefined, "a peeked message shows the sender's lock");
    assert.notEqual(peeked.sequenceNumber.toNumber(), 999999);
    assert.ok(peeked.enqueuedTimeUtc.getTime() > 0, "the sender's enqueued time was kept");
    assert.equal(peeked.partitionKey, "kept", "an annotation the broker does not own was lost");
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    assert.ok(message, "no message was received");
    assert.equal(message.state, "active");
    await receiver.completeMessage(message);
    await receiver.close();
  } finally {
    await client.close();
  }
});
