"use strict";
// Contract checks of the strict Cosmos DB test server against @azure/cosmos 4.9.3 (the
// official SDK, an independent signer) and against raw requests signed here with node:crypto.
//
//   node checks.js CASE
//
// Reads COSMOS_ENDPOINT, COSMOS_KEY and COSMOS_CA_FILE (tests/lib/cosmos.sh exports them; the
// CA is also passed to the SDK through NODE_EXTRA_CA_CERTS). Exits 0 when every assertion of
// CASE passes, and 1 with the failed assertion otherwise.

const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const http = require("node:http");
const https = require("node:https");
const os = require("node:os");
const path = require("node:path");
const { spawn } = require("node:child_process");
const { CosmosClient } = require("@azure/cosmos");

const endpoint = new URL(process.env.COSMOS_ENDPOINT);
const masterKey = process.env.COSMOS_KEY;
const ca = process.env.COSMOS_CA_FILE ? fs.readFileSync(process.env.COSMOS_CA_FILE) : undefined;
const SERVER = path.join(__dirname, "..", "..", "emulators", "cosmos", "server.js");
const DATABASE = "contract";
const CONTAINER = "items";
const CONTAINER_LINK = `dbs/${DATABASE}/colls/${CONTAINER}`;
const MINUTE_MS = 60 * 1000;
// Cosmos DB's maximum document size.
const MAX_DOCUMENT_BYTES = 2 * 1024 * 1024;

function createClient(options = {}) {
  // Endpoint discovery would move requests to the account's advertised https endpoint, which is
  // wrong for the plain-HTTP case. With one region it changes nothing else.
  return new CosmosClient({
    endpoint: endpoint.href,
    key: masterKey,
    connectionPolicy: { enableEndpointDiscovery: false },
    ...options,
  });
}

async function createContainer(client = createClient()) {
  const { database } = await client.databases.createIfNotExists({ id: DATABASE });
  const { container } = await database.containers.createIfNotExists({
    id: CONTAINER,
    partitionKey: { paths: ["/id"], kind: "Hash", version: 2 },
  });
  return container;
}

async function expectStatus(promise, status) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, status, `expected status ${status}, got ${err.code}: ${err.message}`);
    return true;
  });
}

// Signs a request the way Cosmos DB documents it, independently of the SDK and the server:
// HMAC-SHA256 with the base64-decoded key over verb, resource type, resource link and date.
function masterKeyAuthorization({ verb, resourceType, resourceLink, date, key = masterKey }) {
  const payload = [
    verb.toLowerCase(),
    resourceType.toLowerCase(),
    resourceLink,
    date.toLowerCase(),
    "",
    "",
  ].join("\n");
  const signature = crypto
    .createHmac("sha256", Buffer.from(key, "base64"))
    .update(payload)
    .digest("base64");
  return encodeURIComponent(`type=master&ver=1.0&sig=${signature}`);
}

// Sends one raw request and resolves to { status, headers, body } with the body parsed as JSON.
function rawRequest({ method, path, headers = {}, body, target = endpoint }) {
  const transport = target.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request(
      { host: target.hostname, port: target.port, method, path, headers, ca },
      (response) => {
        const chunks = [];
        response.on("data", (chunk) => chunks.push(chunk));
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          resolve({
            status: response.statusCode,
            headers: response.headers,
            body: text ? JSON.parse(text) : null,
          });
        });
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

// Sends a signed document upsert to the test container; `overrides` replaces any header.
function rawUpsert(document, { date = new Date(), overrides = {}, body, target } = {}) {
  const dateText = date.toUTCString();
  const headers = {
    "x-ms-date": dateText,
    "x-ms-version": "2018-12-31",
    "content-type": "application/json",
    "x-ms-documentdb-is-upsert": "true",
    "x-ms-documentdb-partitionkey": JSON.stringify([document.id]),
    authorization: masterKeyAuthorization({
      verb: "POST",
      resourceType: "docs",
      resourceLink: CONTAINER_LINK,
      date: dateText,
    }),
    ...overrides,
  };
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) {
      delete headers[name];
    }
  }
  return rawRequest({
    target,
    method: "POST",
    path: `/${CONTAINER_LINK}/docs`,
    headers,
    body: body === undefined ? JSON.stringify(document) : body,
  });
}

async function readStats() {
  const response = await rawRequest({ method: "GET", path: "/_emulator/stats" });
  return response.body;
}

// Starts a second server over plain HTTP with the given options and resolves to { target, stop }.
function startServer(options) {
  const readyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cosmos-seed-")), "ready");
  const child = spawn(
    process.execPath,
    [SERVER, "--http", "--port", "0", "--ready-file", readyFile, ...options],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const stop = () => {
    child.kill();
    fs.rmSync(path.dirname(readyFile), { recursive: true, force: true });
  };
  return new Promise((resolve, reject) => {
    child.on("exit", (code) => reject(new Error(`the second server exited with status ${code}`)));
    const poll = setInterval(() => {
      if (fs.existsSync(readyFile)) {
        clearInterval(poll);
        const { port } = JSON.parse(fs.readFileSync(readyFile, "utf8"));
        resolve({ target: new URL(`http://127.0.0.1:${port}`), stop });
      }
    }, 50);
  });
}

// Sends `count` sequential upserts to a fresh container on `target` and returns their statuses.
async function upsertStatuses(target, count) {
  const client = new CosmosClient({
    endpoint: target.href,
    key: masterKey,
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  await createContainer(client);
  const statuses = [];
  for (let index = 0; index < count; index += 1) {
    statuses.push((await rawUpsert({ id: `seed-${index}` }, { target })).status);
  }
  return statuses;
}

const cases = {
  // The right key passes every step the consumer and the read-back tools use.
  async sdk_roundtrip() {
    const container = await createContainer();
    const document = {
      id: "doc-1",
      data: "Scale Test Message : COUNT 1",
      messageProcessingTime: 0.0421,
    };

    const created = await container.items.upsert(document);
    assert.equal(created.statusCode, 201);
    const replaced = await container.items.upsert({ ...document, data: "replaced" });
    assert.equal(replaced.statusCode, 200);

    const read = await container.item(document.id, document.id).read();
    assert.equal(read.statusCode, 200);
    assert.equal(read.resource.data, "replaced");
    assert.equal(read.resource.messageProcessingTime, 0.0421);

    const { resources } = await container.items
      .query({
        query: "SELECT * FROM c WHERE c.id = @id",
        parameters: [{ name: "@id", value: document.id }],
      })
      .fetchAll();
    assert.equal(resources.length, 1);
    assert.equal(resources[0].id, document.id);
  },

  // Resource ids are signed decoded, so ids that need URL encoding must pass too.
  async sdk_encoded_ids() {
    const container = await createContainer();
    const id = "id with spaces+plus%percent";
    assert.equal((await container.items.upsert({ id })).statusCode, 201);
    const read = await container.item(id, id).read();
    assert.equal(read.statusCode, 200);
    assert.equal(read.resource.id, id);
  },

  async sdk_wrong_key_401() {
    await createContainer();
    const wrongKey = crypto.randomBytes(64).toString("base64");
    const client = createClient({ key: wrongKey });
    const container = client.database(DATABASE).container(CONTAINER);
    await expectStatus(container.items.upsert({ id: "doc-wrong-key" }), 401);
    await expectStatus(client.databases.create({ id: "other" }), 401);
  },

  // A raw request signed here with node:crypto proves the check against a second signer.
  async raw_signature() {
    await createContainer();
    const accepted = await rawUpsert({ id: "raw-1" });
    assert.equal(accepted.status, 201, JSON.stringify(accepted.body));

    const decodedHeader = decodeURIComponent(
      masterKeyAuthorization({
        verb: "POST",
        resourceType: "docs",
        resourceLink: CONTAINER_LINK,
        date: new Date().toUTCString(),
      }),
    );
    const plainHeader = await rawUpsert(
      { id: "raw-2" },
      { overrides: { authorization: decodedHeader } },
    );
    assert.equal(
      plainHeader.status,
      201,
      "an authorization header that is not URL-encoded is valid",
    );

    const wrongKey = crypto.randomBytes(64).toString("base64");
    const date = new Date().toUTCString();
    const signedWithWrongKey = masterKeyAuthorization({
      verb: "POST",
      resourceType: "docs",
      resourceLink: CONTAINER_LINK,
      date,
      key: wrongKey,
    });
    const rejectedKey = await rawUpsert(
      { id: "raw-3" },
      { overrides: { "x-ms-date": date, authorization: signedWithWrongKey } },
    );
    assert.equal(rejectedKey.status, 401);
    assert.equal(rejectedKey.body.code, "Unauthorized");

    // A document upsert signs the parent container link, not the path of the docs feed.
    const wrongLink = masterKeyAuthorization({
      verb: "POST",
      resourceType: "docs",
      resourceLink: `${CONTAINER_LINK}/docs`,
      date,
    });
    const rejectedLink = await rawUpsert(
      { id: "raw-4" },
      { overrides: { "x-ms-date": date, authorization: wrongLink } },
    );
    assert.equal(rejectedLink.status, 401);

    const wrongVerb = masterKeyAuthorization({
      verb: "PUT",
      resourceType: "docs",
      resourceLink: CONTAINER_LINK,
      date,
    });
    const rejectedVerb = await rawUpsert(
      { id: "raw-5" },
      { overrides: { "x-ms-date": date, authorization: wrongVerb } },
    );
    assert.equal(rejectedVerb.status, 401);

    const missing = await rawUpsert({ id: "raw-6" }, { overrides: { authorization: undefined } });
    assert.equal(missing.status, 401);
  },

  async raw_date_window_401() {
    await createContainer();
    const now = Date.now();
    const inside = await rawUpsert({ id: "date-1" }, { date: new Date(now - 14 * MINUTE_MS) });
    assert.equal(inside.status, 201, "a date 14 minutes old is inside the 15-minute window");

    const past = await rawUpsert({ id: "date-2" }, { date: new Date(now - 16 * MINUTE_MS) });
    assert.equal(past.status, 401, "a date 16 minutes old is rejected");
    assert.equal(past.body.code, "Unauthorized");
    const future = await rawUpsert({ id: "date-3" }, { date: new Date(now + 16 * MINUTE_MS) });
    assert.equal(future.status, 401, "a date 16 minutes ahead is rejected");

    const missing = await rawUpsert({ id: "date-4" }, { overrides: { "x-ms-date": undefined } });
    assert.equal(missing.status, 401, "a request without x-ms-date is rejected");

    // A date whose weekday is wrong, signed correctly, points at a broken date formatter.
    const text = new Date(now).toUTCString();
    const weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const otherDay = weekdays[(weekdays.indexOf(text.slice(0, 3)) + 1) % 7];
    const wrongWeekday = `${otherDay}${text.slice(3)}`;
    const authorization = masterKeyAuthorization({
      verb: "POST",
      resourceType: "docs",
      resourceLink: CONTAINER_LINK,
      date: wrongWeekday,
    });
    const rejected = await rawUpsert(
      { id: "date-5" },
      { overrides: { "x-ms-date": wrongWeekday, authorization } },
    );
    assert.equal(rejected.status, 401, "a date with the wrong weekday is rejected");
  },

  async raw_partition_key_400() {
    await createContainer();
    const missing = await rawUpsert(
      { id: "pk-1" },
      { overrides: { "x-ms-documentdb-partitionkey": undefined } },
    );
    assert.equal(missing.status, 400, "a missing partition key is rejected");

    const mismatched = await rawUpsert(
      { id: "pk-2" },
      { overrides: { "x-ms-documentdb-partitionkey": '["pk-other"]' } },
    );
    assert.equal(
      mismatched.status,
      400,
      "a partition key that differs from the document's id is rejected",
    );
    assert.equal(mismatched.body.code, "BadRequest");

    const notArray = await rawUpsert(
      { id: "pk-3" },
      { overrides: { "x-ms-documentdb-partitionkey": '"pk-3"' } },
    );
    assert.equal(notArray.status, 400, "a partition key that is not a JSON array is rejected");

    const matching = await rawUpsert({ id: "pk-4" });
    assert.equal(matching.status, 201, "the matching partition key is accepted");

    const container = createClient().database(DATABASE).container(CONTAINER);
    const { resources } = await container.items.readAll().fetchAll();
    assert.deepEqual(
      resources.map((document) => document.id),
      ["pk-4"],
      "no rejected document was stored",
    );
  },

  async sdk_body_too_large_413() {
    const container = await createContainer();
    const padding = "x".repeat(MAX_DOCUMENT_BYTES - 1024);
    assert.equal(
      (await container.items.upsert({ id: "big-ok", padding })).statusCode,
      201,
      "just under 2 MB is accepted",
    );

    const tooLarge = "x".repeat(MAX_DOCUMENT_BYTES + 1);
    await expectStatus(container.items.upsert({ id: "big-rejected", padding: tooLarge }), 413);
    const { resource } = await container.item("big-rejected", "big-rejected").read();
    assert.equal(resource, undefined, "the rejected document was not stored");
  },

  async raw_malformed_json_400() {
    await createContainer();
    const truncated = await rawUpsert({ id: "json-1" }, { body: '{"id": "json-1", "data": ' });
    assert.equal(truncated.status, 400, "a truncated JSON body is rejected");
    assert.equal(truncated.body.code, "BadRequest");

    const array = await rawUpsert({ id: "json-2" }, { body: '[{"id": "json-2"}]' });
    assert.equal(array.status, 400, "a JSON array in place of a document is rejected");

    const valid = await rawUpsert({ id: "json-3" });
    assert.equal(valid.status, 201);
  },

  // Cosmos DB ids cannot contain /, \, ? or #. @azure/cosmos 4.9.3 rejects /, \ and # itself
  // before sending, but sends ?, so the server must reject what reaches it.
  async sdk_reserved_id_chars_400() {
    const container = await createContainer();

    for (const id of ["order?17", "?"]) {
      await assert.rejects(container.items.upsert({ id }), (err) => {
        assert.equal(err.code, 400, `upsert of ${id}: got ${err.code}: ${err.message}`);
        assert.match(err.message, /invalid character '\?'/);
        return true;
      });
      await assert.rejects(container.items.create({ id }), (err) => {
        assert.equal(err.code, 400, `create of ${id}: expected 400, got ${err.code}`);
        return true;
      });
    }
    for (const id of ["order/17", "order\\17", "order#17"]) {
      await assert.rejects(container.items.upsert({ id }), (err) => {
        assert.equal(err.message, "Id contains illegal chars.", `upsert of ${id}`);
        return true;
      });
    }
    const before = await readStats();
    assert.equal(before.rejected["400"], 4, "only the ids with ? reached the server");

    for (const [id, character] of [
      ["raw/1", "/"],
      ["raw\\1", "\\"],
      ["raw?1", "?"],
      ["raw#1", "#"],
    ]) {
      const response = await rawUpsert({ id });
      assert.equal(response.status, 400, `raw upsert of ${id}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.code, "BadRequest");
      assert.ok(
        response.body.message.includes(`invalid character '${character}' at offset 3`),
        response.body.message,
      );
    }

    const { resources } = await container.items.readAll().fetchAll();
    assert.deepEqual(resources, [], "no document with a reserved character was stored");
    const accepted = await container.items.upsert({ id: "order-17 a+b%c" });
    assert.equal(accepted.statusCode, 201, "ids without reserved characters are stored");
  },

  // Started with --fault-429-first 3: the SDK waits x-ms-retry-after-ms and retries by itself.
  async sdk_retries_429() {
    const container = await createContainer();
    const response = await container.items.upsert({ id: "throttled" });
    assert.equal(response.statusCode, 201);
    const stats = await readStats();
    assert.equal(stats.injected["429"], 3, "the server injected three 429s");
    assert.equal(stats.byStatus["429"], 3);

    const { resource } = await container.item("throttled", "throttled").read();
    assert.equal(resource.id, "throttled");
  },

  // Started with --fault-429-first 2 --fault-503-first 1 --retry-after-ms 250: the first two
  // writes get 429 with the retry delay, the third 503, and later writes succeed. Reads are
  // outside the default --fault-scope writes and are never faulted.
  async raw_fault_first_n() {
    await createContainer();
    const date = new Date().toUTCString();
    const read = await rawRequest({
      method: "GET",
      path: `/${CONTAINER_LINK}`,
      headers: {
        "x-ms-date": date,
        "x-ms-version": "2018-12-31",
        authorization: masterKeyAuthorization({
          verb: "GET",
          resourceType: "colls",
          resourceLink: CONTAINER_LINK,
          date,
        }),
      },
    });
    assert.equal(read.status, 200, "a read is not faulted");

    const statuses = [];
    for (let index = 0; index < 5; index += 1) {
      const response = await rawUpsert({ id: `fault-${index}` });
      statuses.push(response.status);
      if (response.status === 429) {
        assert.equal(response.headers["x-ms-retry-after-ms"], "250");
        assert.equal(response.headers["x-ms-substatus"], "3200");
        assert.equal(response.body.code, "TooManyRequests");
      }
      if (response.status === 503) {
        assert.equal(response.body.code, "ServiceUnavailable");
      }
    }
    assert.deepEqual(statuses, [429, 429, 503, 201, 201]);

    const stats = await readStats();
    assert.equal(stats.injected["429"], 2);
    assert.equal(stats.injected["503"], 1);
  },

  // Started with --fault-429-rate 0.3: every upsert still succeeds through the SDK's retries.
  async sdk_retries_429_rate() {
    const container = await createContainer();
    const count = 100;
    const ids = Array.from({ length: count }, (_, index) => `rate-${index}`);
    for (const id of ids) {
      const response = await container.items.upsert({ id });
      assert.equal(response.statusCode, 201);
    }
    const stats = await readStats();
    assert.ok(stats.injected["429"] > 0, "some 429s were injected");
    const { resources } = await container.items.readAll().fetchAll();
    assert.equal(resources.length, count);
  },

  // Started with --fault-503-first 1: @azure/cosmos 4.9.3 returns a 503 on a single-region
  // write instead of retrying it, so the caller observes the fault and the next write succeeds.
  async sdk_observes_503() {
    const container = await createContainer();
    await expectStatus(container.items.upsert({ id: "unavailable" }), 503);
    const retried = await container.items.upsert({ id: "unavailable" });
    assert.equal(retried.statusCode, 201);
    const stats = await readStats();
    assert.equal(stats.injected["503"], 1);
  },

  // Started with --aad-token contract-token: the SDK's AAD path is accepted for data, and
  // database creation needs the master key (403, substatus 5300) as in Cosmos DB.
  async sdk_aad_token() {
    await createContainer();
    const credential = {
      getToken: async () => ({
        token: "contract-token",
        expiresOnTimestamp: Date.now() + 3600 * 1000,
      }),
    };
    const client = new CosmosClient({
      endpoint: endpoint.href,
      aadCredentials: credential,
      connectionPolicy: { enableEndpointDiscovery: false },
    });
    const container = client.database(DATABASE).container(CONTAINER);
    assert.equal((await container.items.upsert({ id: "aad-1" })).statusCode, 201);
    await assert.rejects(client.databases.create({ id: "aad-db" }), (err) => {
      assert.equal(err.code, 403);
      assert.equal(Number(err.substatus), 5300);
      return true;
    });

    const wrongCredential = {
      getToken: async () => ({ token: "other", expiresOnTimestamp: Date.now() + 3600 * 1000 }),
    };
    const wrongClient = new CosmosClient({
      endpoint: endpoint.href,
      aadCredentials: wrongCredential,
    });
    await expectStatus(
      wrongClient.database(DATABASE).container(CONTAINER).items.upsert({ id: "aad-2" }),
      401,
    );
  },

  // Started without --allow-aad: an AAD token is rejected.
  async sdk_aad_rejected_401() {
    await createContainer();
    const credential = {
      getToken: async () => ({ token: "any-token", expiresOnTimestamp: Date.now() + 3600 * 1000 }),
    };
    const client = new CosmosClient({ endpoint: endpoint.href, aadCredentials: credential });
    await expectStatus(
      client.database(DATABASE).container(CONTAINER).items.upsert({ id: "aad-3" }),
      401,
    );
  },

  // Faults drawn from the same seed repeat in the same request order, and another seed draws
  // others. Runs its own servers, so it ignores the one that run.sh started.
  async fault_seed_repeats() {
    const runs = [];
    for (const seed of ["11", "11", "12"]) {
      const server = await startServer([
        "--fault-429-rate",
        "0.5",
        "--retry-after-ms",
        "0",
        "--seed",
        seed,
      ]);
      try {
        runs.push(await upsertStatuses(server.target, 40));
      } finally {
        server.stop();
      }
    }
    assert.ok(runs[0].includes(429), "some upserts were throttled");
    assert.ok(runs[0].includes(201), "some upserts passed");
    assert.deepEqual(runs[1], runs[0], "the same seed injects the same faults");
    assert.notDeepEqual(runs[2], runs[0], "another seed injects other faults");
  },

  // Run with --response-delay-ms 200: every response comes at least that late, and the
  // delayed requests are still checked and stored.
  async raw_response_delay() {
    const DELAY_MS = 200;
    await createContainer();
    const started = process.hrtime.bigint();
    const responses = await Promise.all(
      [0, 1, 2, 3].map((index) => rawUpsert({ id: `delayed-${index}`, pk: "delayed" })),
    );
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    for (const response of responses) {
      assert.equal(response.status, 201, JSON.stringify(response.body));
    }
    // Node keeps timer time in whole milliseconds, so allow 1 ms.
    assert.ok(elapsedMs >= DELAY_MS - 1, `four upserts took ${elapsedMs} ms, under the delay`);
    const wrongKey = await rawUpsert(
      { id: "delayed-wrong-key" },
      { overrides: { authorization: "type%3Dmaster%26ver%3D1.0%26sig%3DAAAA" } },
    );
    assert.equal(wrongKey.status, 401, "a delayed request is still checked");
  },

  // The server keeps connections open, so a client's second request reuses the first socket.
  async raw_keep_alive() {
    await createContainer();
    const transport = endpoint.protocol === "https:" ? https : http;
    const agent = new transport.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set();
    for (let index = 0; index < 3; index += 1) {
      const date = new Date().toUTCString();
      const response = await new Promise((resolve, reject) => {
        const request = transport.request(
          {
            host: endpoint.hostname,
            port: endpoint.port,
            path: `/${CONTAINER_LINK}`,
            agent,
            ca,
            headers: {
              "x-ms-date": date,
              "x-ms-version": "2018-12-31",
              authorization: masterKeyAuthorization({
                verb: "GET",
                resourceType: "colls",
                resourceLink: CONTAINER_LINK,
                date,
              }),
            },
          },
          resolve,
        );
        request.on("socket", (socket) => sockets.add(socket));
        request.on("error", reject);
        request.end();
      });
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers.connection, "keep-alive");
      response.resume();
      await new Promise((resolve) => response.on("end", resolve));
    }
    agent.destroy();
    assert.equal(sockets.size, 1, "three requests used one connection");
  },
};

async function main() {
  const name = process.argv[2];
  const check = cases[name];
  if (!check) {
    process.stderr.write(
      `unknown case '${name}': expected one of ${Object.keys(cases).join(", ")}\n`,
    );
    process.exit(2);
  }
  await check();
  console.log(`${name}: passed`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
