// Official SDK clients for the tests, configured from the variables that tests/lib/cosmos.sh
// (COSMOS_ENDPOINT, COSMOS_KEY, COSMOS_CA_FILE) and the test scripts (COSMOS_DATABASE,
// COSMOS_CONTAINER, EMULATOR_CONNECTION_STRING) export.
"use strict";

const fs = require("fs");
const https = require("https");
const { CosmosClient } = require("@azure/cosmos");
const { ServiceBusClient } = require("@azure/service-bus");

// Returns the test container through @azure/cosmos, trusting the test CA when COSMOS_CA_FILE
// is set (cosmos_start --http sets none). Endpoint discovery is off because the Cosmos test
// server has no regional endpoints.
function cosmosContainer() {
  const caFile = process.env.COSMOS_CA_FILE;
  const agent = caFile ? new https.Agent({ ca: fs.readFileSync(caFile) }) : undefined;
  const client = new CosmosClient({
    endpoint: process.env.COSMOS_ENDPOINT,
    key: process.env.COSMOS_KEY,
    ...(agent ? { agent } : {}),
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  return client.database(process.env.COSMOS_DATABASE).container(process.env.COSMOS_CONTAINER);
}

// Receives and deletes every message in the dead-letter subqueue of `queue`; returns them.
// It stops once a receive waits 1 s without a message.
async function takeDeadLetters(queue) {
  const client = new ServiceBusClient(process.env.EMULATOR_CONNECTION_STRING);
  const receiver = client.createReceiver(queue, {
    subQueueType: "deadLetter",
    receiveMode: "receiveAndDelete",
  });
  const messages = [];
  try {
    for (;;) {
      const batch = await receiver.receiveMessages(100, { maxWaitTimeInMs: 1000 });
      if (batch.length === 0) break;
      messages.push(...batch);
    }
  } finally {
    await receiver.close();
    await client.close();
  }
  return messages;
}

module.exports = { cosmosContainer, takeDeadLetters };
