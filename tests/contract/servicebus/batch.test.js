// The SDK batch format (message-format 0x80013700) is unpacked into individual messages.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { createClient, purge, countDetails } = require("./helpers.js");

const queue = "test-queue";

test("batch of 50 is received exactly once", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    const sender = client.createSender(queue);
    const batch = await sender.createMessageBatch();
    for (let i = 0; i < 50; i++) {
      assert.ok(batch.tryAddMessage({ body: { index: i }, messageId: `batch-${i}` }),
        `message ${i} did not fit the batch`);
    }
    await sender.sendMessages(batch);
    await sender.close();
    assert.equal((await countDetails(queue)).active, 50);

    const receiver = client.createReceiver(queue);
    const seen = new Map();
    for (let round = 0; round < 20 && seen.size < 50; round++) {
      const messages = await receiver.receiveMessages(50, { maxWaitTimeInMs: 1000 });
      for (const message of messages) {
        seen.set(message.messageId, (seen.get(message.messageId) || 0) + 1);
        await receiver.completeMessage(message);
      }
    }
    const extra = await receiver.receiveMessages(10, { maxWaitTimeInMs: 500 });
    await receiver.close();

    assert.equal(seen.size, 50);
    for (let i = 0; i < 50; i++) {
      assert.equal(seen.get(`batch-${i}`), 1, `batch-${i} was received ${seen.get(`batch-${i}`)} times`);
    }
    assert.equal(extra.length, 0, "messages left after the batch was completed");
    assert.equal((await countDetails(queue)).active, 0);
  } finally {
    await client.close();
  }
});

test("batch filled to max-message-size is accepted", async () => {
  const client = createClient();
  try {
    await purge(client, queue);
    const sender = client.createSender(queue);
    const batch = await sender.createMessageBatch();
    assert.equal(batch.maxSizeInBytes, 262144);
    let count = 0;
    while (batch.tryAddMessage({ body: "x".repeat(4096), messageId: `big-${count}` })) {
      count++;
    }
    assert.ok(count > 50, `only ${count} messages of 4 KB fit`);
    await sender.sendMessages(batch);
    await sender.close();
    assert.equal((await countDetails(queue)).active, count);
    await purge(client, queue);
  } finally {
    await client.close();
  }
});
