"use strict";
// JSON-line logger for the test server: one object per line on stdout, gated by level before
// the fields are built, so debug lines cost nothing when they are off.

const LEVELS = { error: 0, warn: 1, info: 2, debug: 3 };

function createLogger(levelName) {
  const threshold = LEVELS[levelName];

  function write(level, event, fields) {
    if (LEVELS[level] > threshold) {
      return;
    }
    const line = { ts: new Date().toISOString(), level, event, ...fields };
    process.stdout.write(JSON.stringify(line) + "\n");
  }

  return {
    enabled: (level) => LEVELS[level] <= threshold,
    error: (event, fields) => write("error", event, fields),
    warn: (event, fields) => write("warn", event, fields),
    info: (event, fields) => write("info", event, fields),
    debug: (event, fields) => write("debug", event, fields),
  };
}

module.exports = { LEVELS, createLogger };
