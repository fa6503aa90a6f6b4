// Lock expiry and renewal on the short-lock queue (LockDuration PT2S in the suite's Config.json).
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { createClient, purge, sleep } = require("./helpers.js");

const queue = "short-lock";
const lockDurationMs = 2000;

async function sendOne(client, messageId) {
  const sender = client.createSender(queue);
  await sender.sendMessages({ body: messageId, messageId });
  await sender.close();
}

test("expired lock redelivers the message", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    await sendOne(client, "lock-expiry-1");
    const receiver = client.createReceiver(queue, { maxAutoLockRenewalDurationInMs: 0 });
    const [first] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    assert.ok(first, "no message was received");
    assert.equal(first.deliveryCount, 0);

    await sleep(lockDurationMs + 1000);
    const [second] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    assert.ok(second, "the message was not redelivered after its lock expired");
    assert.equal(second.messageId, "lock-expiry-1");
    assert.equal(second.deliveryCount, 1);

    await assert.rejects(receiver.completeMessage(first), (error) => {
      assert.equal(error.code, "MessageLockLost");
      return true;
    });
    await receiver.completeMessage(second);
    await receiver.close();
  } finally {
    await client.close();
  }
});

test("renewLock extends the lock", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    await sendOne(client, "renew-1");
    const receiver = client.createReceiver(queue, { maxAutoLockRenewalDurationInMs: 0 });
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    assert.ok(message, "no message was received");
    const firstLockedUntil = message.lockedUntilUtc.getTime();

    await sleep(lockDurationMs / 2);
    const renewedUntil = await receiver.renewMessageLock(message);
    assert.ok(renewedUntil.getTime() > firstLockedUntil,
      `renewed lock ${renewedUntil.toISOString()} does not end after the first one`);
    assert.equal(message.lockedUntilUtc.getTime(), renewedUntil.getTime());

    // Past the first lock's end: only the renewal keeps the message locked to us.
    await sleep(lockDurationMs / 2 + 500);
    await receiver.completeMessage(message);
    const left = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1000 });
    assert.equal(left.length, 0, "the completed message was delivered again");
    await receiver.close();
  } finally {
    await client.close();
  }
});
