// The producer's srcStamp format, "YYYY-MM-DD HH:MM:SS.ffffff" in UTC, for tests that write
// messages themselves. A JavaScript Date has millisecond precision, so the last three digits
// are always 0.
"use strict";

function formatStamp(date) {
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return (
    `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.` +
    `${pad(date.getUTCMilliseconds(), 3)}000`
  );
}

module.exports = { formatStamp };
