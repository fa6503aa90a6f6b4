#!/usr/bin/env node
"use strict";
// Checks the documents that the demo's consumers stored against what the producer sent, and
// prints the end-to-end latency. Reads a JSON array of documents (cosmos_count.js dump) on
// standard input.
//
//   node scripts/lib/demo_report.js --expected N
//
// Prints one JSON object: documents, distinct ids, the COUNT values 1..N that are missing, the
// values stored more than once, and latency p50/p99/max in milliseconds (destStamp minus
// srcStamp, both UTC "YYYY-MM-DD HH:MM:SS.ffffff"). Exits 1 when a COUNT value is missing or a
// message was stored under two ids, and 2 on bad input.

const COUNT_PATTERN = /: COUNT (\d+)$/;

function parseStamp(text) {
  // The stamps carry microseconds and no zone; Date keeps milliseconds, so the fraction is
  // added separately to keep sub-millisecond latencies.
  const match = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})\.(\d{6})$/.exec(text || "");
  if (!match) return NaN;
  const millis = Date.parse(`${match[1]}T${match[2]}Z`);
  return millis + Number(match[3]) / 1000;
}

function percentile(sorted, fraction) {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1);
  return Number(sorted[Math.max(0, index)].toFixed(2));
}

function main() {
  const flag = process.argv.indexOf("--expected");
  const expected = flag > 0 ? Number(process.argv[flag + 1]) : NaN;
  if (!Number.isInteger(expected) || expected < 0) {
    process.stderr.write("demo_report: --expected N (a whole number of messages) is required\n");
    process.exit(2);
  }

  let documents;
  try {
    documents = JSON.parse(require("fs").readFileSync(0, "utf8"));
  } catch (error) {
    process.stderr.write(`demo_report: standard input is not a JSON array: ${error.message}\n`);
    process.exit(2);
  }

  const idsByCount = new Map();
  const latencies = [];
  for (const doc of documents) {
    const match = COUNT_PATTERN.exec(doc.data || "");
    if (match) {
      const count = Number(match[1]);
      const ids = idsByCount.get(count) || new Set();
      ids.add(doc.id);
      idsByCount.set(count, ids);
    }
    const latency = parseStamp(doc.destStamp) - parseStamp(doc.srcStamp);
    if (Number.isFinite(latency)) latencies.push(latency);
  }
  latencies.sort((a, b) => a - b);

  const missing = [];
  for (let count = 1; count <= expected; count++) {
    if (!idsByCount.has(count)) missing.push(count);
  }
  const storedTwice = [...idsByCount].filter(([, ids]) => ids.size > 1).map(([count]) => count);

  const report = {
    documents: documents.length,
    distinct_ids: new Set(documents.map((doc) => doc.id)).size,
    missing_count: missing.length,
    missing_first: missing.slice(0, 10),
    stored_twice: storedTwice.length,
    latency_ms: {
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      max: latencies.length ? Number(latencies[latencies.length - 1].toFixed(2)) : null,
    },
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(missing.length === 0 && storedTwice.length === 0 ? 0 : 1);
}

main();
