#!/usr/bin/env node
"use strict";
// Strict Cosmos DB test server: @vercel/cosmosdb-server's in-memory store behind the checks
// that the real service makes (see README.md). Logs JSON lines to stdout, exits 2 on bad
// options and 0 on SIGTERM or SIGINT.

const fs = require("fs");
const path = require("path");
const { createHttpServer, createHttpsServer } = require("@vercel/cosmosdb-server");
const { createLogger } = require("./log");
const { USAGE, UsageError, parseOptions } = require("./options");
const { createGate } = require("./gate");

// Idle keep-alive connections stay open this long, so that clients reuse them between bursts.
const KEEP_ALIVE_TIMEOUT_MS = 30000;

function fail(message) {
  process.stderr.write(`cosmos test server: ${message}\n`);
  process.exit(2);
}

function readPem(option, file) {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    return fail(`cannot read ${option} '${file}': ${err.message}`);
  }
}

// Creates the store's server through its API, then moves its request listener behind the gate.
function createServer(options, log) {
  const storeOptions = { keepAlive: true };
  let server;
  if (options.http) {
    server = createHttpServer(storeOptions);
  } else {
    server = createHttpsServer({
      ...storeOptions,
      cert: readPem("--tls-cert", options.tlsCert),
      key: readPem("--tls-key", options.tlsKey),
      minVersion: "TLSv1.2",
    });
  }

  const [storeListener] = server.listeners("request");
  server.removeAllListeners("request");
  const gate = createGate({ storeListener, options, log, keepAlive: true });
  server.on("request", gate.listener);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  return { server, gate };
}

// Writes the ready file through a rename, so that a reader never sees it half written.
function writeReadyFile(file, port) {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}`);
  fs.writeFileSync(temporary, JSON.stringify({ port }) + "\n");
  fs.renameSync(temporary, file);
}

function main() {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      fail(err.message);
    }
    throw err;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return;
  }

  const log = createLogger(options.logLevel);
  const { server, gate } = createServer(options, log);

  server.on("error", (err) => {
    log.error("listen_failed", { bind: options.bind, port: options.port, error: err.message });
    process.exit(1);
  });
  server.on("tlsClientError", (err) => {
    log.debug("tls_handshake_failed", { error: err.message });
  });

  server.listen(options.port, options.bind, () => {
    const { port } = server.address();
    if (options.readyFile) {
      writeReadyFile(options.readyFile, port);
    }
    log.info("listening", {
      scheme: options.http ? "http" : "https",
      bind: options.bind,
      port,
      allowAad: options.allowAad,
      fault429Rate: options.fault429Rate,
      fault503Rate: options.fault503Rate,
      fault429First: options.fault429First,
      fault503First: options.fault503First,
      faultScope: options.faultScope,
      retryAfterMs: options.retryAfterMs,
      responseDelayMs: options.responseDelayMs,
      seed: options.seed,
    });
  });

  const stop = (signal) => {
    log.info("stopping", { signal, ...gate.stats });
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main();
