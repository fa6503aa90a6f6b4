// Peek-lock outcomes: complete, abandon, dead-letter, MaxDeliveryCount and receive-and-delete.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { createClient, purge, countDetails, sleep } = require("./helpers.js");

// orders: LockDuration PT1M, MaxDeliveryCount 3 in the suite's Config.json.
const queue = "orders";
const maxDeliveryCount = 3;

async function sendOne(client, body, messageId) {
  const sender = client.createSender(queue);
  await sender.sendMessages({ body, messageId });
  await sender.close();
}

async function receiveOne(receiver) {
  const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
  assert.ok(message, "no message was received");
  return message;
}

test("complete removes the message", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    await purge(client, queue, { subQueueType: "deadLetter" });
    await sendOne(client, "complete me", "complete-1");
    const receiver = client.createReceiver(queue);
    const message = await receiveOne(receiver);
    assert.equal((await countDetails(queue)).active, 1, "a locked message counts as active");
    await receiver.completeMessage(message);
    const again = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1000 });
    await receiver.close();
    assert.equal(again.length, 0, "a completed message was delivered again");
    assert.deepEqual(await countDetails(queue), { active: 0, deadLetter: 0 });
  } finally {
    await client.close();
  }
});

test("abandon redelivers with delivery count plus one", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    await sendOne(client, "abandon me", "abandon-1");
    const receiver = client.createReceiver(queue);
    const first = await receiveOne(receiver);
    assert.equal(first.deliveryCount, 0);
    await receiver.abandonMessage(first);
    const second = await receiveOne(receiver);
    assert.equal(second.messageId, "abandon-1");
    assert.equal(second.deliveryCount, 1);
    assert.equal(second.sequenceNumber.toNumber(), first.sequenceNumber.toNumber());
    assert.notEqual(second.lockToken, first.lockToken, "a new delivery needs a new lock");
    await receiver.completeMessage(second);
    await receiver.close();
  } finally {
    await client.close();
  }
});

test("dead-letter with reason appears on the dead-letter subqueue", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    await purge(client, queue, { subQueueType: "deadLetter" });
    await sendOne(client, { poison: true }, "dead-letter-1");
    const receiver = client.createReceiver(queue);
    const message = await receiveOne(receiver);
    await receiver.deadLetterMessage(message, {
      deadLetterReason: "ValidationFailed",
      deadLetterErrorDescription: "srcStamp is missing",
    });
    const left = await receiver.receiveMessages(1, { maxWaitTimeInMs: 500 });
    await receiver.close();
    assert.equal(left.length, 0, "the dead-lettered message stayed in the queue");
    assert.deepEqual(await countDetails(queue), { active: 0, deadLetter: 1 });

    const deadLetters = client.createReceiver(queue, { subQueueType: "deadLetter" });
    const dead = await receiveOne(deadLetters);
    assert.equal(dead.messageId, "dead-letter-1");
    assert.deepEqual(dead.body, { poison: true });
    assert.equal(dead.deadLetterReason, "ValidationFailed");
    assert.equal(dead.deadLetterErrorDescription, "srcStamp is missing");
    assert.equal(dead.deadLetterSource, undefined, "deadLetterSource is for auto-forwarding only");
    await deadLetters.completeMessage(dead);
    await deadLetters.close();
    assert.deepEqual(await countDetails(queue), { active: 0, deadLetter: 0 });
  } finally {
    await client.close();
  }
});

test("MaxDeliveryCount abandons dead-letter the message", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    await purge(client, queue, { subQueueType: "deadLetter" });
    await sendOne(client, "poison", "max-delivery-1");
    const receiver = client.createReceiver(queue);
    for (let attempt = 0; attempt < maxDeliveryCount; attempt++) {
      const message = await receiveOne(receiver);
      assert.equal(message.deliveryCount, attempt);
      await receiver.abandonMessage(message);
    }
    const left = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1000 });
    await receiver.close();
    assert.equal(left.length, 0, "the message was delivered more than MaxDeliveryCount times");

    const deadLetters = client.createReceiver(queue, { subQueueType: "deadLetter" });
    const dead = await receiveOne(deadLetters);
    assert.equal(dead.messageId, "max-delivery-1");
    assert.equal(dead.deadLetterReason, "MaxDeliveryCountExceeded");
    assert.equal(dead.deliveryCount, maxDeliveryCount);
    await deadLetters.completeMessage(dead);
    await deadLetters.close();
  } finally {
    await client.close();
  }
});

test("receive-and-delete removes the message on receipt", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    await sendOne(client, "take me", "receive-and-delete-1");
    const receiver = client.createReceiver(queue, { receiveMode: "receiveAndDelete" });
    const message = await receiveOne(receiver);
    assert.equal(message.messageId, "receive-and-delete-1");
    assert.equal(message.lockedUntilUtc, undefined, "receive-and-delete has no lock");
    await receiver.close();
    assert.equal((await countDetails(queue)).active, 0);
    const peeker = client.createReceiver(queue);
    const peeked = await peeker.peekMessages(10);
    await peeker.close();
    assert.equal(peeked.length, 0, "the message is still in the queue");
  } finally {
    await client.close();
  }
});

test("peek returns messages without locking them", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    await sendOne(client, "peek 1", "peek-1");
    await sendOne(client, "peek 2", "peek-2");
    const receiver = client.createReceiver(queue);
    const peeked = await receiver.peekMessages(10);
    assert.deepEqual(peeked.map((m) => m.messageId), ["peek-1", "peek-2"]);
    const [first] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    assert.equal(first.messageId, "peek-1", "peek locked the message");
    await receiver.completeMessage(first);
    await receiver.close();
    await purge(client, queue);
  } finally {
    await client.close();
  }
});

test("deferred message is received by sequence number", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    await sendOne(client, "later", "defer-1");
    const receiver = client.createReceiver(queue);
    const message = await receiveOne(receiver);
    const sequenceNumber = message.sequenceNumber;
    await receiver.deferMessage(message);
    const none = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1000 });
    assert.equal(none.length, 0, "a deferred message was delivered on the link");
    assert.equal((await countDetails(queue)).active, 1, "a deferred message counts as active");

    const [deferred] = await receiver.receiveDeferredMessages([sequenceNumber]);
    assert.ok(deferred, "receiveDeferredMessages returned nothing");
    assert.equal(deferred.messageId, "defer-1");
    assert.ok(deferred.lockedUntilUtc > new Date(Date.now() - 1000), "no lock on the message");
    await receiver.completeMessage(deferred);
    assert.equal((await countDetails(queue)).active, 0);

    await assert.rejects(receiver.receiveDeferredMessages([sequenceNumber]), (error) => {
      assert.equal(error.code, "MessageNotFound", `unexpected error ${error.code}: ${error.message}`);
      return true;
    });
    await receiver.close();
  } finally {
    await client.close();
  }
});

test("abandon and defer apply propertiesToModify", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    const sender = client.createSender(queue);
    await sender.sendMessages({
      body: "modify me",
      messageId: "modify-1",
      applicationProperties: { kept: "yes", attempt: 0 },
    });
    await sender.close();
    const receiver = client.createReceiver(queue);
    const first = await receiveOne(receiver);
    await receiver.abandonMessage(first, { attempt: 1, lastError: "timeout" });
    const second = await receiveOne(receiver);
    assert.deepEqual(second.applicationProperties, { kept: "yes", attempt: 1, lastError: "timeout" });

    await receiver.deferMessage(second, { deferredBy: "contract" });
    const [deferred] = await receiver.receiveDeferredMessages([second.sequenceNumber]);
    assert.ok(deferred, "receiveDeferredMessages returned nothing");
    assert.equal(deferred.applicationProperties.deferredBy, "contract");
    assert.equal(deferred.applicationProperties.attempt, 1);
    await receiver.completeMessage(deferred);
    await receiver.close();
  } finally {
    await client.close();
  }
});

test("dead-letter applies propertiesToModify", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    await purge(client, queue, { subQueueType: "deadLetter" });
    await sendOne(client, "dead with details", "dead-letter-modify-1");
    const receiver = client.createReceiver(queue);
    const message = await receiveOne(receiver);
    await receiver.deadLetterMessage(message, {
      deadLetterReason: "ValidationFailed",
      deadLetterErrorDescription: "count is negative",
      failedField: "count",
    });
    await receiver.close();

    const deadLetters = client.createReceiver(queue, { subQueueType: "deadLetter" });
    const dead = await receiveOne(deadLetters);
    assert.equal(dead.messageId, "dead-letter-modify-1");
    assert.equal(dead.deadLetterReason, "ValidationFailed");
    assert.equal(dead.deadLetterErrorDescription, "count is negative");
    assert.equal(dead.applicationProperties.failedField, "count");
    await deadLetters.completeMessage(dead);
    await deadLetters.close();
  } finally {
    await client.close();
  }
});

test("peek and deferred receive report the message state", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    const sender = client.createSender(queue);
    await sender.sendMessages({ body: "to defer", messageId: "state-deferred" });
    await sender.sendMessages({ body: "active", messageId: "state-active" });
    const [scheduledNumber] = await sender.scheduleMessages(
      { body: "later", messageId: "state-scheduled" }, new Date(Date.now() + 60000));
    const receiver = client.createReceiver(queue);
    const toDefer = await receiveOne(receiver);
    assert.equal(toDefer.messageId, "state-deferred");
    await receiver.deferMessage(toDefer);

    const peeked = await receiver.peekMessages(10, { fromSequenceNumber: toDefer.sequenceNumber });
    const states = Object.fromEntries(peeked.map((m) => [m.messageId, m.state]));
    assert.deepEqual(states, {
      "state-deferred": "deferred",
      "state-active": "active",
      "state-scheduled": "scheduled",
    });

    const [deferred] = await receiver.receiveDeferredMessages([toDefer.sequenceNumber]);
    assert.ok(deferred, "receiveDeferredMessages returned nothing");
    assert.equal(deferred.state, "deferred");
    await receiver.completeMessage(deferred);
    await receiver.close();
    await sender.cancelScheduledMessages(scheduledNumber);
    await sender.close();
    await purge(client, queue);
  } finally {
    await client.close();
  }
});

// Service Bus counts a deferral as a delivery: a deferred message comes back with delivery
// count 1, and each abandon or defer of it adds one (Azure SDK for JS deferredMessage tests).
test("deferral counts as a delivery", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    await purge(client, queue, { subQueueType: "deadLetter" });
    await sendOne(client, "count my deferrals", "defer-count-1");
    const receiver = client.createReceiver(queue);
    const message = await receiveOne(receiver);
    assert.equal(message.deliveryCount, 0);
    await receiver.deferMessage(message);

    const [first] = await receiver.receiveDeferredMessages([message.sequenceNumber]);
    assert.ok(first, "receiveDeferredMessages returned nothing");
    assert.equal(first.deliveryCount, 1, "deferring did not count a delivery");
    await receiver.abandonMessage(first);
    const [second] = await receiver.receiveDeferredMessages([message.sequenceNumber]);
    assert.equal(second.deliveryCount, 2, "abandoning a deferred message did not count");
    await receiver.deferMessage(second);
    const [third] = await receiver.receiveDeferredMessages([message.sequenceNumber]);
    assert.equal(third.deliveryCount, 3, "deferring a deferred message did not count");
    await receiver.deadLetterMessage(third, { deadLetterReason: "counted" });
    await receiver.close();

    const deadLetters = client.createReceiver(queue, { subQueueType: "deadLetter" });
    const dead = await receiveOne(deadLetters);
    assert.equal(dead.messageId, "defer-count-1");
    assert.equal(dead.deliveryCount, 3, "dead-lettering changed the delivery count");
    assert.equal(dead.state, "active", "a dead-lettered message is not deferred");
    await deadLetters.completeMessage(dead);
    await deadLetters.close();
  } finally {
    await client.close();
  }
});

// In a dead-letter subqueue Service Bus neither counts an abandon nor dead-letters a message
// again: that fails and the message stays (Azure SDK for JS batchReceiver tests).
test("dead-letter subqueue keeps its messages", async () => {
  // short-lock (LockDuration PT2S) lets the refused message's lock run out quickly.
  const shortLock = "short-lock";
  const client = createClient();
  try {
    await purge(client, shortLock);
    await purge(client, shortLock, { subQueueType: "deadLetter" });
    const sender = client.createSender(shortLock);
    await sender.sendMessages({ body: "dead once", messageId: "dead-letter-again-1" });
    await sender.close();
    const receiver = client.createReceiver(shortLock);
    await receiver.deadLetterMessage(await receiveOne(receiver));
    await receiver.close();

    const deadLetters = client.createReceiver(shortLock, {
      subQueueType: "deadLetter",
      maxAutoLockRenewalDurationInMs: 0,
    });
    const first = await receiveOne(deadLetters);
    assert.equal(first.deliveryCount, 0);
    await deadLetters.abandonMessage(first);
    const second = await receiveOne(deadLetters);
    assert.equal(second.messageId, "dead-letter-again-1");
    assert.equal(second.deliveryCount, 0, "an abandon in the dead-letter subqueue was counted");

    await assert.rejects(deadLetters.deadLetterMessage(second), (error) => {
      // amqp:not-allowed reaches the caller as GeneralError.
      assert.equal(error.code, "GeneralError", `unexpected error ${error.code}: ${error.message}`);
      return true;
    });
    const peeked = await deadLetters.peekMessages(10, { fromSequenceNumber: second.sequenceNumber });
    assert.deepEqual(peeked.map((m) => m.messageId), ["dead-letter-again-1"],
      "the message left the dead-letter subqueue");
    await deadLetters.close();
    await sleep(2500);
    await purge(client, shortLock, { subQueueType: "deadLetter" });
    assert.deepEqual(await countDetails(shortLock), { active: 0, deadLetter: 0 });
  } finally {
    await client.close();
  }
});
