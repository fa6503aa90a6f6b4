"use strict";
// Command-line options of the test server. Every option has a default here, and parseOptions
// throws a UsageError naming the bad value and the fix, which the caller turns into exit 2.

const { LEVELS } = require("./log");

// The Cosmos DB emulator's published well-known key, so that tests and the local demo can use
// the same value as Microsoft's emulator.
const EMULATOR_KEY =
  "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

const FAULT_SCOPES = ["writes", "docs", "all"];

const USAGE = `usage: node server.js [options]

Strict Cosmos DB test server over @vercel/cosmosdb-server.

  --port N               port to listen on; 0 picks a free one (default 0)
  --bind ADDR            address to listen on (default 127.0.0.1)
  --tls-cert FILE        PEM server certificate for HTTPS
  --tls-key FILE         PEM private key for HTTPS
  --http                 serve plain HTTP instead of HTTPS
  --key BASE64           account master key (default: the Cosmos emulator key)
  --allow-aad            also accept type=aad tokens (any non-empty token)
  --aad-token TOKEN      accept type=aad only with exactly this token (implies --allow-aad)
  --fault-429-rate R     fraction 0..1 of eligible requests answered 429 (default 0)
  --fault-503-rate R     fraction 0..1 of eligible requests answered 503 (default 0)
  --fault-429-first N    answer the first N eligible requests with 429 (default 0)
  --fault-503-first N    answer the N eligible requests after those with 503 (default 0)
  --retry-after-ms MS    x-ms-retry-after-ms sent with each 429 (default 100)
  --response-delay-ms MS hold every request this long before handling it, as a network round
                         trip to a remote account would; requests wait side by side (default 0)
  --fault-scope SCOPE    eligible requests: writes (document create, upsert, replace, patch,
                         delete), docs (every document request, queries too) or all
                         (default writes)
  --seed N               seed of the fault generator, an integer (default 1)
  --ready-file FILE      write {"port":N} to FILE once listening
  --log-level LEVEL      error, warn, info or debug (default info)
  --help                 print this text
`;

class UsageError extends Error {}

function parseNumber(name, text, { min, max, integer }) {
  const value = Number(text);
  const valid =
    text !== undefined && text !== "" && Number.isFinite(value) && value >= min && value <= max;
  if (!valid || (integer && !Number.isInteger(value))) {
    const kind = integer ? "an integer" : "a number";
    throw new UsageError(`invalid ${name} '${text}': expected ${kind} from ${min} to ${max}`);
  }
  return value;
}

function defaults() {
  return {
    port: 0,
    bind: "127.0.0.1",
    tlsCert: null,
    tlsKey: null,
    http: false,
    key: EMULATOR_KEY,
    allowAad: false,
    aadToken: null,
    fault429Rate: 0,
    fault503Rate: 0,
    fault429First: 0,
    fault503First: 0,
    retryAfterMs: 100,
    responseDelayMs: 0,
    faultScope: "writes",
    seed: 1,
    readyFile: null,
    logLevel: "info",
    help: false,
  };
}

function checkKey(key) {
  const decoded = Buffer.from(key, "base64");
  if (key === "" || decoded.toString("base64") !== key) {
    throw new UsageError("invalid --key: expected the account key in standard base64 with padding");
  }
}

function checkCombination(options) {
  if (options.help) {
    return;
  }
  if (options.http && (options.tlsCert || options.tlsKey)) {
    throw new UsageError("--http cannot be combined with --tls-cert or --tls-key: choose one");
  }
  if (!options.http && !(options.tlsCert && options.tlsKey)) {
    throw new UsageError("missing --tls-cert and --tls-key: pass both for HTTPS, or pass --http");
  }
  if (options.fault429Rate + options.fault503Rate > 1) {
    throw new UsageError(
      `invalid fault rates ${options.fault429Rate} + ${options.fault503Rate}: their sum must be at most 1`,
    );
  }
}

function parseOptions(argv) {
  const options = defaults();
  const args = [...argv];

  function value(name) {
    if (args.length === 0) {
      throw new UsageError(`missing value after ${name}`);
    }
    return args.shift();
  }

  while (args.length > 0) {
    const name = args.shift();
    switch (name) {
      case "--port":
        options.port = parseNumber(name, value(name), { min: 0, max: 65535, integer: true });
        break;
      case "--bind":
        options.bind = value(name);
        break;
      case "--tls-cert":
        options.tlsCert = value(name);
        break;
      case "--tls-key":
        options.tlsKey = value(name);
        break;
      case "--http":
        options.http = true;
        break;
      case "--key":
        options.key = value(name);
        checkKey(options.key);
        break;
      case "--allow-aad":
        options.allowAad = true;
        break;
      case "--aad-token":
        options.aadToken = value(name);
        options.allowAad = true;
        break;
      case "--fault-429-rate":
        options.fault429Rate = parseNumber(name, value(name), { min: 0, max: 1 });
        break;
      case "--fault-503-rate":
        options.fault503Rate = parseNumber(name, value(name), { min: 0, max: 1 });
        break;
      case "--fault-429-first":
        options.fault429First = parseNumber(name, value(name), { min: 0, max: 1e9, integer: true });
        break;
      case "--fault-503-first":
        options.fault503First = parseNumber(name, value(name), { min: 0, max: 1e9, integer: true });
        break;
      case "--retry-after-ms":
        options.retryAfterMs = parseNumber(name, value(name), {
          min: 0,
          max: 600000,
          integer: true,
        });
        break;
      case "--response-delay-ms":
        options.responseDelayMs = parseNumber(name, value(name), {
          min: 0,
          max: 60000,
          integer: true,
        });
        break;
      case "--fault-scope":
        options.faultScope = value(name);
        if (!FAULT_SCOPES.includes(options.faultScope)) {
          throw new UsageError(
            `invalid --fault-scope '${options.faultScope}': expected one of ${FAULT_SCOPES.join(", ")}`,
          );
        }
        break;
      case "--seed":
        options.seed = parseNumber(name, value(name), { min: 0, max: 2 ** 32 - 1, integer: true });
        break;
      case "--ready-file":
        options.readyFile = value(name);
        break;
      case "--log-level":
        options.logLevel = value(name);
        if (!(options.logLevel in LEVELS)) {
          throw new UsageError(
            `invalid --log-level '${options.logLevel}': expected one of ${Object.keys(LEVELS).join(", ")}`,
          );
        }
        break;
      case "--help":
      case "-h":
        options.help = true;
        break;
      default:
        throw new UsageError(`unknown option '${name}': run with --help for the list`);
    }
  }
  checkCombination(options);
  return options;
}

module.exports = { EMULATOR_KEY, USAGE, UsageError, parseOptions };
