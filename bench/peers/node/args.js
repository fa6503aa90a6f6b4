"use strict";
// Command-line parsing shared by the Node peers: "--name value" pairs over defaults taken from
// the environment, so that the harness can pass either.

function parseArgs(argv, spec) {
  const values = {};
  for (const [name, { env, fallback }] of Object.entries(spec)) {
    values[name] = env && process.env[env] !== undefined ? process.env[env] : fallback;
  }
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const name = flag.replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!flag.startsWith("--") || !(name in spec) || i + 1 >= argv.length) {
      console.error(`invalid option ${flag}; the options are: ${Object.keys(spec).join(", ")}`);
      process.exit(2);
    }
    values[name] = argv[i + 1];
  }
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) {
      const env = spec[name].env ? ` or ${spec[name].env}` : "";
      console.error(`missing --${name}${env}`);
      process.exit(2);
    }
  }
  return values;
}

// Formats a Date as a message stamp: "2026-12-04 06:14:27.123456" in UTC. Node clocks have
// millisecond resolution here, so the last three digits come from performance.now().
function formatStamp(date, microseconds) {
  const iso = date.toISOString(); // 2026-12-04T06:14:27.123Z
  const micro = String(microseconds % 1000).padStart(3, "0");
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}${micro}`;
}

function stampNow() {
  const nowUs = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  return formatStamp(new Date(Math.floor(nowUs / 1000)), nowUs);
}

// Builds the message body our producer sends, padded with a "pad" field to `size` bytes.
function makeBody(count, size) {
  const head = `{"msg": "Scale Test Message : COUNT ${count}", "srcStamp": "${stampNow()}"`;
  const padLength = size - head.length - 12;
  if (padLength < 0) {
    return Buffer.from(`${head}}`);
  }
  return Buffer.from(`${head}, "pad": "${"x".repeat(padLength)}"}`);
}

module.exports = { parseArgs, stampNow, makeBody };
