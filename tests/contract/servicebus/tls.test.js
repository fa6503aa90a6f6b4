// The TLS port works with a certificate from a test CA trusted through NODE_EXTRA_CA_CERTS.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { ServiceBusClient } = require("@azure/service-bus");
const { purge } = require("./helpers.js");

test("TLS port sends and receives with the test CA", async () => {
  const port = process.env.EMULATOR_AMQPS_PORT;
  assert.ok(port, "EMULATOR_AMQPS_PORT is not set: start the emulator with --tls-port");
  assert.ok(process.env.NODE_EXTRA_CA_CERTS, "NODE_EXTRA_CA_CERTS is not set");
  // Without UseDevelopmentEmulator the SDK uses TLS and checks the certificate for localhost.
  const tlsConnectionString =
    `Endpoint=sb://localhost:${port};SharedAccessKeyName=RootManageSharedAccessKey;` +
    "SharedAccessKey=SAS_KEY_VALUE";
  const client = new ServiceBusClient(tlsConnectionString, {
    retryOptions: { maxRetries: 1, timeoutInMs: 10000 },
  });
  try {
    await purge(client, "test-queue");
    const sender = client.createSender("test-queue");
    await sender.sendMessages({ body: "over TLS", messageId: "tls-1" });
    await sender.close();
    const receiver = client.createReceiver("test-queue");
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    assert.ok(message, "no message was received over TLS");
    assert.equal(message.body, "over TLS");
    await receiver.completeMessage(message);
    await receiver.close();
  } finally {
    await client.close();
  }
});
