// Wire-level checks with rhea (the AMQP library under @azure/service-bus): the CBS reply
// styles, token expiry, SASL PLAIN, drain, and the HTTP side's SAS check. These cover what
// the SDKs do not exercise on their own.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const rhea = require("rhea");

const port = Number(process.env.EMULATOR_AMQP_PORT);
const httpPort = Number(process.env.EMULATOR_HTTP_PORT);
const keyName = "RootManageSharedAccessKey";
const key = "SAS_KEY_VALUE";

// Builds a SAS token the way the SDKs do: HMAC-SHA256 over urlencode(uri) + "\n" + expiry.
function sasToken(uri, expirySeconds, signingKey = key) {
  const resource = encodeURIComponent(uri);
  const signature = crypto
    .createHmac("sha256", signingKey)
    .update(`${resource}\n${expirySeconds}`)
    .digest("base64");
  return `SharedAccessSignature sr=${resource}&sig=${encodeURIComponent(signature)}` +
    `&se=${expirySeconds}&skn=${keyName}`;
}

// Waits for `event` on `emitter`, failing after `ms` so that a missing event cannot hang.
function once(emitter, event, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    emitter.once(event, (context) => {
      clearTimeout(timer);
      resolve(context);
    });
  });
}

async function connect(options = {}) {
  const container = rhea.create_container();
  const connection = container.connect({ host: "127.0.0.1", port, reconnect: false, ...options });
  await once(connection, "connection_open");
  return connection;
}

// Sends a put-token on $cbs and returns the reply's application properties.
async function putToken(connection, audience, token, replyStyle) {
  const replyAddress = `cbs-reply-${crypto.randomUUID()}`;
  const receiverName = `cbs-receiver-${crypto.randomUUID()}`;
  const receiver = connection.open_receiver({
    name: receiverName,
    source: { address: "$cbs" },
    target: { address: replyStyle === "address" ? replyAddress : undefined },
  });
  await once(receiver, "receiver_open");
  const sender = connection.open_sender({ target: { address: "$cbs" } });
  await once(sender, "sendable");
  const messageId = crypto.randomUUID();
  sender.send({
    message_id: messageId,
    reply_to: replyStyle === "address" ? replyAddress : receiverName,
    application_properties: {
      operation: "put-token",
      type: "servicebus.windows.net:sastoken",
      name: audience,
    },
    body: token,
  });
  const { message } = await once(receiver, "message");
  assert.equal(message.correlation_id, messageId);
  return message.application_properties;
}

test("put-token reply goes to the link named in reply-to", async () => {
  const connection = await connect();
  try {
    const expiry = Math.floor(Date.now() / 1000) + 600;
    const reply = await putToken(connection, `sb://localhost:${port}/orders`,
      sasToken(`sb://localhost:${port}/orders`, expiry), "name");
    assert.equal(reply["status-code"], 202);
  } finally {
    connection.close();
  }
});

test("put-token reply goes to the target address in reply-to", async () => {
  const connection = await connect();
  try {
    const expiry = Math.floor(Date.now() / 1000) + 600;
    const reply = await putToken(connection, "sb://127.0.0.1/orders",
      sasToken("sb://127.0.0.1/orders", expiry), "address");
    assert.equal(reply["status-code"], 202);
  } finally {
    connection.close();
  }
});

test("put-token with a wrong key gets 401", async () => {
  const connection = await connect();
  try {
    const expiry = Math.floor(Date.now() / 1000) + 600;
    const reply = await putToken(connection, "sb://localhost/orders",
      sasToken("sb://localhost/orders", expiry, "wrong-key"), "name");
    assert.equal(reply["status-code"], 401);
    assert.match(reply["status-description"], /InvalidSignature/);
  } finally {
    connection.close();
  }
});

test("attach without a token is rejected as unauthorized", async () => {
  const connection = await connect();
  try {
    const receiver = connection.open_receiver({ source: { address: "orders" } });
    await once(receiver, "receiver_close");
    assert.equal(receiver.error.condition, "amqp:unauthorized-access");
  } finally {
    connection.close();
  }
});

test("expired token detaches the entity link", async () => {
  const connection = await connect();
  try {
    const expiry = Math.floor(Date.now() / 1000) + 2;
    const reply = await putToken(connection, "sb://localhost/orders",
      sasToken("sb://localhost/orders", expiry), "name");
    assert.equal(reply["status-code"], 202);
    const receiver = connection.open_receiver({ source: { address: "orders" }, credit_window: 0 });
    await once(receiver, "receiver_open");
    await once(receiver, "receiver_close", 15000);
    assert.equal(receiver.error.condition, "amqp:unauthorized-access");
  } finally {
    connection.close();
  }
});

test("SASL PLAIN with the key authorizes without CBS", async () => {
  const connection = await connect({ username: keyName, password: key });
  try {
    const sender = connection.open_sender({ target: { address: "test-queue" } });
    await once(sender, "sendable");
    sender.send({ body: "plain", message_id: "sasl-plain-1" });
    await once(sender, "accepted");
    const receiver = connection.open_receiver({
      source: { address: "test-queue" },
      autoaccept: true,
    });
    const { message } = await once(receiver, "message");
    assert.equal(message.message_id, "sasl-plain-1");
  } finally {
    connection.close();
  }
});

test("SASL PLAIN with a wrong key fails the connection", async () => {
  const container = rhea.create_container();
  const connection = container.connect({
    host: "127.0.0.1", port, reconnect: false, username: keyName, password: "wrong",
  });
  const outcome = await Promise.race([
    once(connection, "connection_error").then(() => "error"),
    once(connection, "disconnected").then(() => "disconnected"),
    once(connection, "connection_open").then(() => "open"),
  ]);
  assert.notEqual(outcome, "open");
  assert.equal(connection.is_open(), false);
});

test("drain on an empty queue completes at once", async () => {
  const connection = await connect({ username: keyName, password: key });
  try {
    const receiver = connection.open_receiver({ source: { address: "short-ttl" }, credit_window: 0 });
    await once(receiver, "receiver_open");
    receiver.add_credit(10);
    receiver.drain = true;
    receiver.add_credit(0);
    await once(receiver, "receiver_drained", 2000);
    assert.equal(receiver.credit, 0);
  } finally {
    connection.close();
  }
});

test("HTTP queue description checks a SAS Authorization header", async () => {
  const url = `http://127.0.0.1:${httpPort}/orders?api-version=2021-05`;
  const expiry = Math.floor(Date.now() / 1000) + 600;
  const good = await fetch(url, { headers: { Authorization: sasToken(`https://localhost/orders`, expiry) } });
  assert.equal(good.status, 200);
  assert.match(await good.text(), /QueueDescription/);
  const bad = await fetch(url, {
    headers: { Authorization: sasToken("https://localhost/orders", expiry, "wrong-key") },
  });
  assert.equal(bad.status, 401);
});

test("oversize transfer is rejected with message-size-exceeded", async () => {
  const connection = await connect({ username: keyName, password: key });
  try {
    const sender = connection.open_sender({ target: { address: "test-queue" } });
    await once(sender, "sendable");
    assert.equal(sender.remote.attach.max_message_size, 262144);
    // rhea does not enforce the peer's limit, so the emulator has to.
    sender.send({ body: Buffer.alloc(300 * 1024, 0x61) });
    const { delivery } = await once(sender, "rejected");
    assert.equal(delivery.remote_state.error.condition, "amqp:link:message-size-exceeded");
    sender.send({ body: "small", message_id: "after-oversize" });
    await once(sender, "accepted");
  } finally {
    connection.close();
  }
});
