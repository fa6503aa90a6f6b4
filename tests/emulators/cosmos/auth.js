"use strict";
// Cosmos DB request authentication as the service checks it: the master-key signature over
// verb, resource type, resource link and date, the 15-minute window around x-ms-date, and
// (only when enabled) Entra ID tokens sent as type=aad.

const crypto = require("crypto");

// Cosmos DB rejects a request whose x-ms-date is more than 15 minutes before or after the
// service's clock.
const MAX_DATE_SKEW_MS = 15 * 60 * 1000;

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const RFC1123 =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/i;

class RequestError extends Error {
  constructor(status, code, message, substatus) {
    super(message);
    this.status = status;
    this.code = code;
    this.substatus = substatus;
  }
}

function unauthorized(message) {
  return new RequestError(401, "Unauthorized", message);
}

function capitalize(word) {
  return word[0].toUpperCase() + word.slice(1).toLowerCase();
}

// Splits a request path into the resource type and resource link that Cosmos DB signs. A path
// with an odd number of segments names a feed (/dbs/d/colls/c/docs: type docs, link
// dbs/d/colls/c). An even number names one resource (/dbs/d: type dbs, link dbs/d). Segments
// are percent-decoded because clients sign the resource ids, not their URL encoding.
function parseResource(pathname) {
  const trimmed = pathname.replace(/^\/+/, "").replace(/\/+$/, "");
  if (trimmed === "") {
    return { type: "", link: "", segments: [] };
  }

  let segments;
  try {
    segments = trimmed.split("/").map(decodeURIComponent);
  } catch {
    throw new RequestError(400, "BadRequest", `invalid percent-encoding in path '${pathname}'`);
  }

  if (segments.length % 2 === 1) {
    const type = segments[segments.length - 1];
    return { type, link: segments.slice(0, -1).join("/"), segments };
  }
  return { type: segments[segments.length - 2], link: segments.join("/"), segments };
}

// Parses an RFC 1123 date as Cosmos DB reads it, rejecting a weekday that does not match the
// date (as .NET's "r" format does), so that a client's date formatting bug shows up here.
function parseRfc1123(text) {
  const match = RFC1123.exec(text);
  if (!match) {
    return null;
  }

  const [, weekday, day, month, year, hours, minutes, seconds] = match;
  const monthIndex = MONTHS.indexOf(capitalize(month));
  const ms = Date.UTC(+year, monthIndex, +day, +hours, +minutes, +seconds);
  const date = new Date(ms);
  if (date.getUTCDate() !== +day || +hours > 23 || +minutes > 59 || +seconds > 59) {
    return null;
  }
  if (WEEKDAYS[date.getUTCDay()] !== capitalize(weekday)) {
    return null;
  }
  return ms;
}

// Reads type, ver and sig from the authorization header, which clients send URL-encoded (the
// SDKs do) or, less often, as plain text.
function parseAuthorization(header) {
  let text = header;
  if (text.includes("%")) {
    try {
      text = decodeURIComponent(text);
    } catch {
      throw unauthorized("invalid percent-encoding in the authorization header");
    }
  }

  const fields = {};
  for (const part of text.split("&")) {
    const equals = part.indexOf("=");
    if (equals > 0) {
      fields[part.slice(0, equals).toLowerCase()] = part.slice(equals + 1);
    }
  }
  for (const name of ["type", "ver", "sig"]) {
    if (!fields[name]) {
      throw unauthorized(
        `the authorization header has no '${name}' field: expected type=master&ver=1.0&sig=...`,
      );
    }
  }
  return fields;
}

function checkDate(req, nowMs) {
  const text = req.headers["x-ms-date"];
  if (!text) {
    throw unauthorized("missing x-ms-date header: send the request time in RFC 1123 format");
  }

  const ms = parseRfc1123(text);
  if (ms === null) {
    throw unauthorized(
      `invalid x-ms-date '${text}': expected RFC 1123 format such as 'Thu, 04 Dec 2026 06:14:27 GMT'`,
    );
  }
  if (Math.abs(nowMs - ms) > MAX_DATE_SKEW_MS) {
    const now = new Date(nowMs).toUTCString();
    throw unauthorized(
      `the authorization token is not valid at the current time: x-ms-date '${text}' is more than 15 minutes from the server time '${now}'`,
    );
  }
  return text;
}

// Returns the string to sign for a master-key request, exactly as Cosmos DB builds it.
function stringToSign(verb, resourceType, resourceLink, date) {
  return `${verb.toLowerCase()}\n${resourceType.toLowerCase()}\n${resourceLink}\n${date.toLowerCase()}\n\n`;
}

function signMasterKey(key, payload) {
  return crypto.createHmac("sha256", Buffer.from(key, "base64")).update(payload, "utf8").digest();
}

function checkMasterSignature(fields, expected, payload) {
  if (fields.ver !== "1.0") {
    throw unauthorized(`unsupported token version ver=${fields.ver}: expected ver=1.0`);
  }

  const given = Buffer.from(fields.sig, "base64");
  const valid = given.length === expected.length && crypto.timingSafeEqual(given, expected);
  if (!valid) {
    const shown = JSON.stringify(payload);
    throw unauthorized(
      `the master-key signature does not match: the wrong key was used or the string to sign differs from the one the server used: ${shown}`,
    );
  }
}

function checkAadToken(fields, options) {
  if (!options.allowAad) {
    throw unauthorized(
      "type=aad tokens are not accepted by this server: start it with --allow-aad or sign with the master key",
    );
  }
  if (options.aadToken !== null && fields.sig !== options.aadToken) {
    throw unauthorized(
      "the type=aad token is not the one this server was started with (--aad-token)",
    );
  }
}

// Authenticates one request and returns "master" or "aad", or throws a RequestError with the
// status Cosmos DB would send (401).
function authenticate(req, resource, options, nowMs) {
  const header = req.headers.authorization;
  if (!header) {
    throw unauthorized("missing authorization header: send a master-key signature or an AAD token");
  }

  const fields = parseAuthorization(header);
  switch (fields.type.toLowerCase()) {
    case "master": {
      const date = checkDate(req, nowMs);
      const payload = stringToSign(req.method, resource.type, resource.link, date);
      checkMasterSignature(fields, signMasterKey(options.key, payload), payload);
      return "master";
    }
    case "aad":
      // The token carries its own expiry, so clients such as @azure/cosmos 4.9.3 send no
      // x-ms-date with it. A date that is sent must still be valid.
      if (req.headers["x-ms-date"] !== undefined) {
        checkDate(req, nowMs);
      }
      checkAadToken(fields, options);
      return "aad";
    default:
      throw unauthorized(`unsupported token type type=${fields.type}: expected master or aad`);
  }
}

module.exports = {
  MAX_DATE_SKEW_MS,
  RequestError,
  authenticate,
  parseResource,
  parseRfc1123,
  signMasterKey,
  stringToSign,
};
