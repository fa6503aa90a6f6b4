"use strict";
// The Node peer of our consumer: @azure/service-bus 7.9.5 in peek-lock mode with subscribe()
// and maxConcurrentCalls equal to our concurrency, writing each message's document with
// @azure/cosmos 4.9.3 (upsert) and completing the message only after the write succeeded, as
// the SDKs' documentation recommends. The document is the one our consumer builds:
//   {"id": <message-id>, "data": <msg>, "srcStamp", "destStamp", "messageProcessingTime",
//    "sequenceNumber", "enqueuedTime", "deliveryCount"}
// At start it creates the database and the container (partition key /id) if they are missing.
// GET /readyz on --health-port returns 200 once the receiver is subscribed, so that cold start
// is measured the same way for both. It runs until SIGTERM or SIGINT (or until --count messages
// are completed when --count is above 0), then prints one JSON line with its counters.

const http = require("node:http");
const https = require("node:https");
const fs = require("node:fs");
const { ServiceBusClient } = require("@azure/service-bus");
const { CosmosClient } = require("@azure/cosmos");
const { parseArgs, stampNow } = require("./args");

function parseStamp(stamp) {
  // "2026-12-04 06:14:27.123456" in UTC, to microseconds since the epoch.
  const ms = Date.parse(`${stamp.slice(0, 10)}T${stamp.slice(11, 23)}Z`);
  return ms * 1000 + Number(stamp.slice(23, 26));
}

function buildDocument(message, destStamp) {
  let body = message.body;
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) {
    body = JSON.parse(Buffer.from(body).toString("utf8"));
  }
  if (typeof body !== "object" || body === null || typeof body.msg !== "string" ||
      typeof body.srcStamp !== "string") {
    throw new Error("the body is not a JSON object with string fields msg and srcStamp");
  }
  return {
    id: String(message.messageId),
    data: body.msg,
    srcStamp: body.srcStamp,
    destStamp,
    messageProcessingTime: (parseStamp(destStamp) - parseStamp(body.srcStamp)) / 1e6,
    sequenceNumber: message.sequenceNumber ? Number(message.sequenceNumber.toString()) : -1,
    enqueuedTime: message.enqueuedTimeUtc ? message.enqueuedTimeUtc.toISOString() : undefined,
    deliveryCount: message.deliveryCount,
  };
}

// Over plain HTTP the SDK allows a request only with its own default agent, which keeps
// connections alive. For HTTPS a custom agent carries the test CA.
function cosmosAgent(endpoint, caFile) {
  if (endpoint.startsWith("http://")) {
    return undefined;
  }
  return new https.Agent({ keepAlive: true, ca: caFile ? fs.readFileSync(caFile) : undefined });
}

async function main() {
  const args = parseArgs(process.argv.slice(2), {
    connectionString: { env: "SERVICEBUS_CONNECTION_STRING" },
    queue: { env: "SERVICEBUS_QUEUE" },
    cosmosEndpoint: { env: "COSMOS_ENDPOINT" },
    cosmosKey: { env: "COSMOS_KEY" },
    cosmosDatabase: { env: "COSMOS_DATABASE", fallback: "workload" },
    cosmosContainer: { env: "COSMOS_CONTAINER", fallback: "messages" },
    caFile: { env: "COSMOS_CA_FILE", fallback: "" },
    concurrency: { env: "CONSUMER_CONCURRENCY", fallback: "32" },
    healthPort: { env: "HEALTH_PORT", fallback: "0" },
    count: { fallback: "0" },
  });
  const counters = { completed: 0, failed: 0 };
  let ready = false;

  const health = http.createServer((request, response) => {
    const ok = request.url !== "/readyz" || ready;
    response.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
    response.end(JSON.stringify({ ready, ...counters }));
  });
  await new Promise((resolve) => health.listen(Number(args.healthPort), "127.0.0.1", resolve));

  const cosmos = new CosmosClient({
    endpoint: args.cosmosEndpoint,
    key: args.cosmosKey,
    agent: cosmosAgent(args.cosmosEndpoint, args.caFile),
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  const { database } = await cosmos.databases.createIfNotExists({ id: args.cosmosDatabase });
  const { container } = await database.containers.createIfNotExists({
    id: args.cosmosContainer,
    partitionKey: { paths: ["/id"], kind: "Hash", version: 2 },
  });

  const client = new ServiceBusClient(args.connectionString);
  const receiver = client.createReceiver(args.queue, { receiveMode: "peekLock" });
  let stopping = null;

  async function stop() {
    if (!stopping) {
      stopping = (async () => {
        await subscription.close();
        await receiver.close();
        await client.close();
        health.close();
        console.log(JSON.stringify(counters));
      })();
    }
    return stopping;
  }

  const limit = Number(args.count);
  const subscription = receiver.subscribe(
    {
      async processMessage(message) {
        const document = buildDocument(message, stampNow());
        await container.items.upsert(document);
        await receiver.completeMessage(message);
        counters.completed++;
        if (limit > 0 && counters.completed >= limit) {
          stop();
        }
      },
      async processError(event) {
        counters.failed++;
        console.error(`node consumer: ${event.errorSource}: ${event.error.message}`);
      },
    },
    { maxConcurrentCalls: Number(args.concurrency), autoCompleteMessages: false },
  );
  ready = true;
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((error) => {
  console.error(`node consumer: ${error.stack || error}`);
  process.exit(1);
});
