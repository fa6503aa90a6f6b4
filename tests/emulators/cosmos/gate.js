"use strict";
// The checks that sit in front of @vercel/cosmosdb-server's request handler, which accepts
// anything on its own. Each request is authenticated, its body is read and validated, and its
// partition key is compared with the container's definition. It may then receive an injected
// 429 or 503, and only a request that passes all of this is replayed to the in-memory store.

const crypto = require("crypto");
const { PassThrough } = require("stream");
const { RequestError, authenticate, parseResource } = require("./auth");
const { createFaults, isEligible } = require("./faults");

// Cosmos DB's maximum document size. The service rejects a larger request body with 413.
const MAX_BODY_BYTES = 2 * 1024 * 1024;
// Past this many bytes an oversized body is no longer drained: the server replies and closes.
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

const STATS_PATH = "/_emulator/stats";

function isTrueHeader(value) {
  return typeof value === "string" && value.toLowerCase() === "true";
}

function isQuery(req) {
  return (
    req.method === "POST" &&
    (isTrueHeader(req.headers["x-ms-documentdb-isquery"]) ||
      req.headers["content-type"] === "application/query+json")
  );
}

function sendError(res, error, keepAlive) {
  const headers = {
    "content-type": "application/json",
    "x-ms-activity-id": crypto.randomUUID(),
    "x-ms-request-charge": "0",
    connection: keepAlive ? "keep-alive" : "close",
  };
  if (error.substatus !== undefined) {
    headers["x-ms-substatus"] = String(error.substatus);
  }
  Object.assign(headers, error.headers || {});
  res.writeHead(error.status, headers);
  res.end(JSON.stringify({ code: error.code, message: error.message }));
}

// Reads the whole body, keeping at most MAX_BODY_BYTES of it. Resolves to { body, total,
// drained }: body is null when the body was larger, and drained is false when reading stopped
// at MAX_DRAIN_BYTES.
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let total = 0;
    let settled = false;

    req.on("data", (chunk) => {
      total += chunk.length;
      if (total <= MAX_BODY_BYTES) {
        chunks.push(chunk);
      } else if (total > MAX_DRAIN_BYTES && !settled) {
        settled = true;
        req.pause();
        resolve({ body: null, total, drained: false });
      }
    });
    req.on("end", () => {
      if (!settled) {
        settled = true;
        resolve({
          body: total <= MAX_BODY_BYTES ? Buffer.concat(chunks) : null,
          total,
          drained: true,
        });
      }
    });
    req.on("error", (err) => {
      if (!settled) {
        settled = true;
        reject(err);
      }
    });
  });
}

function parseJsonBody(body, req, resource) {
  const hasJsonBody = ["POST", "PUT", "PATCH"].includes(req.method) && body.length > 0;
  if (!hasJsonBody) {
    return undefined;
  }

  let parsed;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new RequestError(400, "BadRequest", `the request body is not valid JSON: ${err.message}`);
  }

  const isDocumentWrite = resource.type === "docs" && !isQuery(req) && req.method !== "PATCH";
  const isBatch = isTrueHeader(req.headers["x-ms-cosmos-is-batch-request"]);
  const isObject = parsed !== null && typeof parsed === "object" && !Array.isArray(parsed);
  if (isDocumentWrite && !isBatch && !isObject) {
    throw new RequestError(400, "BadRequest", "the document must be a JSON object");
  }
  return parsed;
}

// Reads the value at a partition key path such as /id or /address/"zip code" from a document.
function valueAtPath(document, path) {
  const segments = path
    .split("/")
    .slice(1)
    .map((segment) => segment.replace(/^["'](.*)["']$/, "$1"));
  let value = document;
  for (const segment of segments) {
    if (value === null || typeof value !== "object" || !(segment in value)) {
      return undefined;
    }
    value = value[segment];
  }
  return value;
}

function parsePartitionKeyHeader(text, paths) {
  let values;
  try {
    values = JSON.parse(text);
  } catch {
    values = undefined;
  }
  if (!Array.isArray(values) || values.length !== paths.length) {
    throw new RequestError(
      400,
      "BadRequest",
      `invalid x-ms-documentdb-partitionkey '${text}': expected a JSON array of ${paths.length} value(s), such as ["abc"]`,
    );
  }
  return values;
}

// Compares one header value with the document's value. An empty object {} in the header means
// that the document lacks the partition key property.
function samePartitionKeyValue(headerValue, documentValue) {
  const isNone =
    headerValue !== null &&
    typeof headerValue === "object" &&
    Object.keys(headerValue).length === 0;
  if (isNone) {
    return documentValue === undefined;
  }
  return headerValue === documentValue;
}

function checkPartitionKey(req, resource, document, containers) {
  const isDocument = resource.type === "docs" && resource.segments.length >= 5;
  const isFeedRead = req.method === "GET" && resource.segments.length === 5;
  const isBatch = isTrueHeader(req.headers["x-ms-cosmos-is-batch-request"]);
  if (!isDocument || isFeedRead || isQuery(req) || isBatch) {
    return;
  }

  const [, db, , coll] = resource.segments;
  const paths = containers.get(`${db}/${coll}`);
  if (!paths) {
    return;
  }

  const header = req.headers["x-ms-documentdb-partitionkey"];
  if (header === undefined) {
    throw new RequestError(
      400,
      "BadRequest",
      "PartitionKey value must be supplied for this operation: send x-ms-documentdb-partitionkey",
    );
  }
  const values = parsePartitionKeyHeader(header, paths);
  if (document === undefined) {
    return;
  }
  paths.forEach((path, index) => {
    if (!samePartitionKeyValue(values[index], valueAtPath(document, path))) {
      throw new RequestError(
        400,
        "BadRequest",
        `PartitionKey extracted from the document does not match the one in the header: header ${header}, document ${path} = ${JSON.stringify(valueAtPath(document, path))}`,
      );
    }
  });
}

// Cosmos DB does not allow '/', '\', '?' or '#' in resource ids. The service itself stores a
// document with such an id, and one with '/' can then not be read, replaced or deleted by id,
// so this server rejects the write, where a test can see the problem.
const RESERVED_ID_CHARACTER = /[/\\?#]/;

function checkDocumentId(req, resource, document) {
  const isDocumentWrite =
    resource.type === "docs" && (req.method === "POST" || req.method === "PUT") && !isQuery(req);
  if (!isDocumentWrite || document === undefined || Array.isArray(document)) {
    return;
  }
  if (typeof document.id !== "string") {
    return;
  }
  const match = RESERVED_ID_CHARACTER.exec(document.id);
  if (match) {
    throw new RequestError(
      400,
      "BadRequest",
      `The input id ${JSON.stringify(document.id)} contains the invalid character '${match[0]}' at offset ${match.index}: ids cannot contain /, \\, ? or #`,
    );
  }
}

// Entra ID tokens cannot manage databases or containers in Cosmos DB (403, substatus 5300).
function checkAadScope(kind, req, resource) {
  const isManagement = resource.type === "dbs" || resource.type === "colls";
  if (kind === "aad" && isManagement && req.method !== "GET" && !isQuery(req)) {
    throw new RequestError(
      403,
      "Forbidden",
      "Entra ID tokens cannot create, replace or delete databases and containers: use the master key",
      5300,
    );
  }
}

// Copies a request into a fresh stream that replays the body, for the store's handler, which
// reads the body itself.
function replayRequest(req, body) {
  const replay = new PassThrough();
  replay.headers = req.headers;
  replay.rawHeaders = req.rawHeaders;
  replay.method = req.method;
  replay.url = req.url;
  replay.httpVersion = req.httpVersion;
  replay.socket = req.socket;
  replay.connection = req.socket;
  replay.end(body);
  return replay;
}

function createStats() {
  return { requests: 0, byStatus: {}, injected: { 429: 0, 503: 0 }, rejected: {} };
}

// Remembers each container's partition key paths from the requests that create, replace or
// delete containers and databases, because the store does not expose its account object.
function trackContainers(containers, req, resource, document, status) {
  const [, db, , coll] = resource.segments;
  if (req.method === "POST" && resource.type === "colls" && resource.segments.length === 3) {
    if (status === 201 && document && typeof document.id === "string") {
      const paths = (document.partitionKey && document.partitionKey.paths) || ["/id"];
      containers.set(`${db}/${document.id}`, paths);
    }
  } else if (req.method === "PUT" && resource.type === "colls" && status === 200 && document) {
    const paths = (document.partitionKey && document.partitionKey.paths) || ["/id"];
    containers.set(`${db}/${coll}`, paths);
  } else if (req.method === "DELETE" && status === 204) {
    if (resource.type === "colls") {
      containers.delete(`${db}/${coll}`);
    } else if (resource.type === "dbs") {
      for (const key of [...containers.keys()].filter((k) => k.startsWith(`${db}/`))) {
        containers.delete(key);
      }
    }
  }
}

// Wraps the store's request listener with the checks. Returns (req, res) => void.
function createGate({ storeListener, options, log, keepAlive }) {
  const faults = createFaults(options);
  const containers = new Map();
  const stats = createStats();

  function sendRejection(req, res, error, start) {
    stats.rejected[error.status] = (stats.rejected[error.status] || 0) + 1;
    log.info("request_rejected", {
      method: req.method,
      path: req.url,
      status: error.status,
      reason: error.message,
    });
    const keepOpen = keepAlive && !error.closeConnection;
    sendError(res, error, keepOpen);
    if (error.closeConnection) {
      res.on("finish", () => req.socket.destroy());
    }
    finish(req, error.status, start);
  }

  function finish(req, status, start) {
    stats.byStatus[status] = (stats.byStatus[status] || 0) + 1;
    if (log.enabled("debug")) {
      const durationMs = Number(process.hrtime.bigint() - start) / 1e6;
      log.debug("request", { method: req.method, path: req.url, status, durationMs });
    }
  }

  function injectFault(req, res, status, start) {
    stats.injected[status] += 1;
    log.debug("fault_injected", { method: req.method, path: req.url, status });
    const error =
      status === 429
        ? new RequestError(
            429,
            "TooManyRequests",
            "request rate is too large (injected by the test server)",
            3200,
          )
        : new RequestError(
            503,
            "ServiceUnavailable",
            "service unavailable (injected by the test server)",
          );
    if (status === 429) {
      error.headers = { "x-ms-retry-after-ms": String(options.retryAfterMs) };
    }
    sendError(res, error, keepAlive);
    finish(req, status, start);
  }

  // Runs every check on one request and returns { resource, body, document }, or throws a
  // RequestError. The body is left unread when a check before it fails.
  async function checkRequest(req, pathname) {
    const resource = parseResource(pathname);
    const kind = authenticate(req, resource, options, Date.now());
    if (!req.headers["x-ms-version"]) {
      throw new RequestError(400, "BadRequest", "missing x-ms-version header: send 2018-12-31");
    }

    const read = await readBody(req);
    if (read.body === null) {
      const size = read.drained ? `${read.total}` : `more than ${read.total}`;
      const error = new RequestError(
        413,
        "RequestEntityTooLarge",
        `the request body of ${size} bytes exceeds the maximum of ${MAX_BODY_BYTES} bytes`,
      );
      error.bodyRead = true;
      error.closeConnection = !read.drained;
      throw error;
    }

    let document;
    try {
      document = parseJsonBody(read.body, req, resource);
      checkAadScope(kind, req, resource);
      checkDocumentId(req, resource, document);
      checkPartitionKey(req, resource, document, containers);
    } catch (err) {
      err.bodyRead = true;
      throw err;
    }
    return { resource, body: read.body, document };
  }

  async function handle(req, res) {
    const start = process.hrtime.bigint();
    const pathname = req.url.split("?")[0];
    stats.requests += 1;

    if (req.method === "GET" && pathname === STATS_PATH) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(stats));
      return;
    }

    if (options.responseDelayMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, options.responseDelayMs));
    }

    let checked;
    try {
      checked = await checkRequest(req, pathname);
    } catch (err) {
      if (!(err instanceof RequestError)) {
        throw err;
      }
      // A rejection before the body was read leaves it unread, so drain it to let the
      // connection carry the next request.
      if (!err.bodyRead) {
        req.resume();
      }
      sendRejection(req, res, err, start);
      return;
    }

    const { resource, body, document } = checked;
    if (isEligible(options.faultScope, req.method, resource, isQuery(req))) {
      const fault = faults.next();
      if (fault !== 0) {
        injectFault(req, res, fault, start);
        return;
      }
    }

    res.on("finish", () => {
      trackContainers(containers, req, resource, document, res.statusCode);
      finish(req, res.statusCode, start);
    });
    storeListener(replayRequest(req, body), res);
  }

  return {
    stats,
    listener: (req, res) => {
      handle(req, res).catch((err) => {
        log.error("request_failed", { method: req.method, path: req.url, error: err.stack });
        if (!res.headersSent) {
          sendError(res, new RequestError(500, "InternalServerError", err.message), false);
        }
      });
    },
  };
}

module.exports = { MAX_BODY_BYTES, STATS_PATH, createGate, valueAtPath };
