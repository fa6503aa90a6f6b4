// Messages that span several 64 KB frames, received in peek-lock with a credit smaller than
// the queue. The emulator hands a credit window to Proton in 1 MB steps and continues on a
// connection wake, and every step must follow the one before until the credit is used.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { createClient, purge, countDetails } = require("./helpers.js");

const queue = "test-queue";
const count = 300;
const credit = 100;
const body = "x".repeat(64 * 1024);

test("300 messages of 64 KB are received with credit 100", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    const sender = client.createSender(queue);
    for (let i = 0; i < count; i += 3) {
      const batch = await sender.createMessageBatch();
      for (let j = i; j < i + 3 && j < count; j++) {
        assert.ok(batch.tryAddMessage({ body, messageId: `large-${j}` }),
          `message ${j} did not fit the batch`);
      }
      await sender.sendMessages(batch);
    }
    await sender.close();
    assert.equal((await countDetails(queue)).active, count);

    const receiver = client.createReceiver(queue);
    const seen = new Map();
    for (let round = 0; round < 3 * (count / credit) && seen.size < count; round++) {
      const messages = await receiver.receiveMessages(credit, { maxWaitTimeInMs: 5000 });
      for (const message of messages) {
        assert.equal(message.body.length, body.length);
        seen.set(message.messageId, (seen.get(message.messageId) || 0) + 1);
        await receiver.completeMessage(message);
      }
    }
    await receiver.close();
    assert.equal(seen.size, count);
    for (const [id, times] of seen) {
      assert.equal(times, 1, `${id} was received ${times} times`);
    }
    assert.equal((await countDetails(queue)).active, 0);
  } finally {
    await client.close();
  }
});
