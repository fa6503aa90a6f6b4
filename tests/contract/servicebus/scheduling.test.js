// Scheduled messages: schedule-message and cancel-scheduled-message on $management, and the
// x-opt-scheduled-enqueue-time annotation on an ordinary send.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { createClient, purge, countDetails, scheduledCount, sleep } = require("./helpers.js");

const queue = "test-queue";

test("scheduled message becomes available at its time", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    const sender = client.createSender(queue);
    const at = new Date(Date.now() + 2000);
    const [sequenceNumber] = await sender.scheduleMessages(
      { body: "later", messageId: "scheduled-1" }, at);
    await sender.close();
    assert.ok(sequenceNumber.toNumber() >= 1, "no sequence number returned");
    assert.equal(await scheduledCount(queue), 1);
    assert.equal((await countDetails(queue)).active, 0, "a scheduled message counts as active");

    const receiver = client.createReceiver(queue);
    const early = await receiver.receiveMessages(1, { maxWaitTimeInMs: 500 });
    assert.equal(early.length, 0, "the scheduled message arrived early");
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 10000 });
    assert.ok(message, "the scheduled message never arrived");
    assert.equal(message.messageId, "scheduled-1");
    assert.equal(message.sequenceNumber.toNumber(), sequenceNumber.toNumber());
    assert.ok(message.enqueuedTimeUtc.getTime() >= at.getTime() - 1,
      `enqueued at ${message.enqueuedTimeUtc.toISOString()}, before ${at.toISOString()}`);
    await receiver.completeMessage(message);
    await receiver.close();
    assert.equal(await scheduledCount(queue), 0);
  } finally {
    await client.close();
  }
});

test("cancelled scheduled message never arrives", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    const sender = client.createSender(queue);
    const [sequenceNumber] = await sender.scheduleMessages(
      { body: "never", messageId: "cancelled-1" }, new Date(Date.now() + 1500));
    await sender.cancelScheduledMessages(sequenceNumber);
    assert.equal(await scheduledCount(queue), 0);
    await sleep(2500);
    assert.deepEqual(await countDetails(queue), { active: 0, deadLetter: 0 });
    await assert.rejects(sender.cancelScheduledMessages(sequenceNumber), (error) => {
      assert.equal(error.code, "MessageNotFound", `unexpected error ${error.code}`);
      return true;
    });
    await sender.close();
  } finally {
    await client.close();
  }
});

test("send with scheduledEnqueueTimeUtc waits for it", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    const sender = client.createSender(queue);
    await sender.sendMessages({
      body: "annotated",
      messageId: "annotated-1",
      scheduledEnqueueTimeUtc: new Date(Date.now() + 1500),
    });
    await sender.close();
    assert.equal(await scheduledCount(queue), 1);
    const receiver = client.createReceiver(queue, { receiveMode: "receiveAndDelete" });
    const early = await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 });
    assert.equal(early.length, 0, "the message arrived before its scheduled time");
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 10000 });
    assert.ok(message, "the message never arrived");
    assert.equal(message.messageId, "annotated-1");
    await receiver.close();
  } finally {
    await client.close();
  }
});
