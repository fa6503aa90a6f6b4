// Failures that must surface quickly as the right error, never as a hang.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { connectionString, createClient } = require("./helpers.js");

// Bounds a call so that a hang fails the test instead of stalling the suite.
function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// The SDK retries some failures and then throws an AggregateError of every attempt's error.
function codeOf(error) {
  if (error instanceof AggregateError && error.errors.length > 0) {
    const codes = new Set(error.errors.map((inner) => inner.code));
    return codes.size === 1 ? [...codes][0] : `mixed ${[...codes].join(",")}`;
  }
  return error.code;
}

test("wrong key fails with an authorization error", async () => {
  const wrong = connectionString.replace(/SharedAccessKey=[^;]*/, "SharedAccessKey=wrong-key");
  const client = createClient(wrong);
  try {
    const sender = client.createSender("orders");
    await assert.rejects(within(20000, sender.sendMessages({ body: "nope" }), "send"), (error) => {
      assert.equal(codeOf(error), "UnauthorizedAccess", `unexpected error ${codeOf(error)}: ${error.message}`);
      return true;
    });
  } finally {
    await client.close();
  }
});

test("wrong key name fails with an authorization error", async () => {
  const wrong = connectionString.replace(/SharedAccessKeyName=[^;]*/, "SharedAccessKeyName=Other");
  const client = createClient(wrong);
  try {
    const receiver = client.createReceiver("orders");
    await assert.rejects(
      within(20000, receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 }), "receive"),
      (error) => {
        assert.equal(codeOf(error), "UnauthorizedAccess", `unexpected error ${codeOf(error)}: ${error.message}`);
        return true;
      },
    );
  } finally {
    await client.close();
  }
});

test("unknown queue fails with not-found", async () => {
  const client = createClient();
  try {
    const sender = client.createSender("no-such-queue");
    await assert.rejects(within(20000, sender.sendMessages({ body: "lost" }), "send"), (error) => {
      assert.equal(codeOf(error), "MessagingEntityNotFound", `unexpected error ${codeOf(error)}: ${error.message}`);
      return true;
    });
  } finally {
    await client.close();
  }
});

test("oversize message is rejected with message-size-exceeded", async () => {
  const client = createClient();
  try {
    const sender = client.createSender("test-queue");
    const body = Buffer.alloc(300 * 1024, 0x61);
    await assert.rejects(within(20000, sender.sendMessages({ body }), "send"), (error) => {
      assert.equal(codeOf(error), "MessageSizeExceeded", `unexpected error ${codeOf(error)}: ${error.message}`);
      return true;
    });
  } finally {
    await client.close();
  }
});

// The emulator has no sessions: a session receiver must fail at once, and the client must close.
test("session receiver fails at once", async () => {
  const client = createClient();
  try {
    // The SDK reports an attach reply without the requested session as SessionCannotBeLocked
    // and drops the detach's reason.
    await assert.rejects(within(20000, client.acceptSession("orders", "session-1"), "acceptSession"),
      (error) => {
        assert.equal(codeOf(error), "SessionCannotBeLocked", `${codeOf(error)}: ${error.message}`);
        return true;
      });
    // acceptNextSession waits for the detach, and amqp:not-allowed reaches the caller as
    // GeneralError prefixed with its name.
    await assert.rejects(within(20000, client.acceptNextSession("orders"), "acceptNextSession"),
      (error) => {
        assert.equal(codeOf(error), "GeneralError", `${codeOf(error)}: ${error.message}`);
        assert.match(error.message, /^InvalidOperationError: .*does not require sessions/);
        return true;
      });
  } finally {
    await client.close();
  }
});

// The suite's Config.json lists the topic "events" with the subscription "audit", which the
// emulator does not serve. Both must fail at once as not supported, not as a missing entity.
test("topic and subscription fail as not supported", async () => {
  const client = createClient();
  try {
    const sender = client.createSender("events");
    await assert.rejects(within(20000, sender.sendMessages({ body: "event" }), "send"), (error) => {
      // amqp:not-implemented reaches the caller as GeneralError prefixed with its name.
      assert.equal(codeOf(error), "GeneralError", `${codeOf(error)}: ${error.message}`);
      assert.match(error.message, /^NotImplementedError: .*not supported/);
      return true;
    });
    const receiver = client.createReceiver("events", "audit");
    await assert.rejects(
      within(20000, receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 }), "receive"),
      (error) => {
        assert.equal(codeOf(error), "GeneralError", `${codeOf(error)}: ${error.message}`);
        assert.match(error.message, /^NotImplementedError: .*not supported/);
        return true;
      },
    );
  } finally {
    await client.close();
  }
});
