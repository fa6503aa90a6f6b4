#!/usr/bin/env node
"use strict";
// Reads documents back from Cosmos DB (the test server or a real account) with @azure/cosmos,
// for tests that check what the consumer stored.
//
//   node tests/lib/cosmos_count.js COMMAND [options]
//
// Commands:
//   count    prints the number of documents
//   ids      prints the ids, sorted by code point, one a line
//   dump     prints the documents as one JSON array, sorted by id
//   get ID   prints one document, or exits 3 when it does not exist
//   init     creates the database and a container partitioned on /id when they are missing
//   drop     deletes the container and its documents
// Options default to environment variables: --endpoint (COSMOS_ENDPOINT), --key (COSMOS_KEY),
// --ca FILE (COSMOS_CA_FILE, a PEM CA for HTTPS), --database (COSMOS_DATABASE),
// --container (COSMOS_CONTAINER). Exits 1 when a request fails and 2 on bad usage.

const fs = require("fs");
const https = require("https");
const { CosmosClient } = require("@azure/cosmos");

const COMMANDS = ["count", "ids", "dump", "get", "init", "drop"];
const OPTIONS = {
  "--endpoint": "COSMOS_ENDPOINT",
  "--key": "COSMOS_KEY",
  "--ca": "COSMOS_CA_FILE",
  "--database": "COSMOS_DATABASE",
  "--container": "COSMOS_CONTAINER",
};

function usage(message) {
  process.stderr.write(`cosmos_count: ${message}\n`);
  process.stderr.write(
    "usage: cosmos_count.js count|ids|dump|get ID|init|drop [--endpoint URL] [--key KEY] [--ca FILE] [--database NAME] [--container NAME]\n",
  );
  process.exit(2);
}

function parseArgs(argv) {
  const args = { command: argv[0], id: null };
  if (!COMMANDS.includes(args.command)) {
    usage(`unknown command '${args.command}': expected one of ${COMMANDS.join(", ")}`);
  }

  let rest = argv.slice(1);
  if (args.command === "get") {
    args.id = rest[0];
    rest = rest.slice(1);
    if (!args.id) {
      usage("missing ID after get");
    }
  }
  for (const [option, variable] of Object.entries(OPTIONS)) {
    args[option] = process.env[variable];
  }
  while (rest.length > 0) {
    const option = rest.shift();
    if (!(option in OPTIONS) || rest.length === 0) {
      usage(`unknown option or missing value: '${option}'`);
    }
    args[option] = rest.shift();
  }
  for (const option of ["--endpoint", "--key", "--database", "--container"]) {
    if (!args[option]) {
      usage(`missing ${option}: pass it or set ${OPTIONS[option]}`);
    }
  }
  return args;
}

function createContainer(args) {
  const agent = args["--ca"]
    ? new https.Agent({ ca: fs.readFileSync(args["--ca"]), keepAlive: true })
    : undefined;
  // Endpoint discovery would send later requests to the account's advertised https endpoint,
  // which is wrong for a plain-HTTP test server.
  const client = new CosmosClient({
    endpoint: args["--endpoint"],
    key: args["--key"],
    agent,
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  return { client, container: client.database(args["--database"]).container(args["--container"]) };
}

function compareIds(a, b) {
  if (a.id < b.id) {
    return -1;
  }
  return a.id > b.id ? 1 : 0;
}

// Reads every document in pages of up to 10,000, because the test server runs the whole query
// again for each page, so small pages make a large read slow.
async function readAll(container) {
  const { resources } = await container.items.readAll({ maxItemCount: 10000 }).fetchAll();
  return resources.sort(compareIds);
}

async function run(args) {
  const { client, container } = createContainer(args);
  switch (args.command) {
    case "count":
      console.log((await readAll(container)).length);
      break;
    case "ids":
      for (const document of await readAll(container)) {
        console.log(document.id);
      }
      break;
    case "dump":
      console.log(JSON.stringify(await readAll(container), null, 2));
      break;
    case "get": {
      const { resource } = await container.item(args.id, args.id).read();
      if (resource === undefined) {
        process.stderr.write(`cosmos_count: document '${args.id}' not found\n`);
        process.exitCode = 3;
        break;
      }
      console.log(JSON.stringify(resource, null, 2));
      break;
    }
    case "init": {
      const { database } = await client.databases.createIfNotExists({ id: args["--database"] });
      await database.containers.createIfNotExists({
        id: args["--container"],
        partitionKey: { paths: ["/id"], kind: "Hash", version: 2 },
      });
      break;
    }
    case "drop":
      await container.delete();
      break;
  }
}

run(parseArgs(process.argv.slice(2))).catch((err) => {
  const status = err.code !== undefined ? ` (status ${err.code})` : "";
  const message = err.code === 404 ? "database or container not found" : err.message;
  process.stderr.write(`cosmos_count: ${message || "request failed"}${status}\n`);
  process.exit(1);
});
