"use strict";
// The Node peer of our producer: @azure/service-bus 7.9.5 as its documentation recommends for
// throughput, createMessageBatch filled to the link's maximum size and a few batches sent
// concurrently. Each message carries the same JSON body, a fresh UUID message-id and the
// content type application/json. Prints one JSON line with the counts and the elapsed seconds.

const { ServiceBusClient } = require("@azure/service-bus");
const { randomUUID } = require("node:crypto");
const { parseArgs, makeBody } = require("./args");

async function main() {
  const args = parseArgs(process.argv.slice(2), {
    connectionString: { env: "SERVICEBUS_CONNECTION_STRING" },
    queue: { env: "SERVICEBUS_QUEUE" },
    count: { fallback: "10000" },
    size: { fallback: "200" },
    concurrency: { fallback: "4" },
  });
  const total = Number(args.count);
  const size = Number(args.size);
  const concurrency = Number(args.concurrency);

  const client = new ServiceBusClient(args.connectionString);
  const sender = client.createSender(args.queue);
  let next = 1;
  let accepted = 0;

  // Each worker fills one batch from the shared counter and sends it; `concurrency` workers
  // keep that many batches in flight.
  async function worker() {
    while (next <= total) {
      const batch = await sender.createMessageBatch();
      while (next <= total) {
        const message = {
          body: makeBody(next, size),
          messageId: randomUUID(),
          contentType: "application/json",
        };
        if (!batch.tryAddMessage(message)) {
          break;
        }
        next++;
      }
      if (batch.count === 0) {
        if (next > total) {
          break; // another worker took the last messages while this batch was created
        }
        throw new Error(`a ${size}-byte message does not fit in an empty batch`);
      }
      await sender.sendMessages(batch);
      accepted += batch.count;
    }
  }

  await sender.createMessageBatch(); // opens the link before the clock starts
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await sender.close();
  await client.close();
  console.log(JSON.stringify({ sent: total, accepted, seconds, msgs_per_s: accepted / seconds }));
  process.exitCode = accepted === total ? 0 : 1;
}

main().catch((error) => {
  console.error(`node producer: ${error.stack || error}`);
  process.exit(1);
});
