"use strict";
// Fault injection: decides which eligible requests receive 429 or 503 instead of being served.
// The first --fault-429-first requests get 429 and the --fault-503-first after them get 503.
// After that each request draws from a seeded generator, so a run with the same seed and the
// same request order injects the same faults.

// mulberry32: a small 32-bit generator, good enough to spread faults and reproducible by seed.
function createRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function createFaults(options) {
  const random = createRandom(options.seed);
  let eligible = 0;

  // Returns 429, 503 or 0 (serve the request) for the next eligible request.
  function next() {
    const index = eligible;
    eligible += 1;

    if (index < options.fault429First) {
      return 429;
    }
    if (index < options.fault429First + options.fault503First) {
      return 503;
    }
    if (options.fault429Rate === 0 && options.fault503Rate === 0) {
      return 0;
    }

    const draw = random();
    if (draw < options.fault429Rate) {
      return 429;
    }
    if (draw < options.fault429Rate + options.fault503Rate) {
      return 503;
    }
    return 0;
  }

  return { next };
}

// Tells whether a request may receive an injected fault under --fault-scope.
function isEligible(scope, method, resource, isQuery) {
  if (scope === "all") {
    return true;
  }
  if (resource.type !== "docs") {
    return false;
  }
  if (scope === "docs") {
    return true;
  }
  const writes = ["POST", "PUT", "PATCH", "DELETE"];
  return writes.includes(method) && !isQuery;
}

module.exports = { createFaults, createRandom, isEligible };
