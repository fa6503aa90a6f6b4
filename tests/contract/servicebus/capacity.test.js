// A queue at its cap rejects sends with amqp:resource-limit-exceeded. run.sh starts this
// file's emulator with --max-queue-messages 3.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { createClient, purge, countDetails } = require("./helpers.js");

test("full queue rejects sends with quota exceeded", async () => {
  const client = createClient();
  try {
    await purge(client, "test-queue");
    const sender = client.createSender("test-queue");
    for (let i = 0; i < 3; i++) {
      await sender.sendMessages({ body: `fits ${i}` });
    }
    await assert.rejects(sender.sendMessages({ body: "one too many" }), (error) => {
      const code = error instanceof AggregateError ? error.errors.at(-1).code : error.code;
      assert.equal(code, "QuotaExceeded", `unexpected error ${code}: ${error.message}`);
      return true;
    });
    assert.equal((await countDetails("test-queue")).active, 3);

    // Room comes back once a message is removed.
    const receiver = client.createReceiver("test-queue", { receiveMode: "receiveAndDelete" });
    const taken = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    assert.equal(taken.length, 1);
    await receiver.close();
    await sender.sendMessages({ body: "fits again" });
    await sender.close();
    assert.equal((await countDetails("test-queue")).active, 3);
  } finally {
    await client.close();
  }
});
