# shellcheck shell=bash
# Starts and stops the strict Cosmos DB test server (tests/emulators/cosmos) for tests and the
# local demo. Source this file, then:
#
#   cosmos_start DIR [SERVER_OPTION...]   start over HTTPS on a free loopback port
#   cosmos_stop                           stop the server that cosmos_start started
#   cosmos_stats                          print the server's counters as JSON: requests,
#                                         responses by status, injected faults, rejections
#   cosmos_stat GROUP [KEY]               print one group of those counters as JSON, or one
#                                         counter in it (0 when the server never counted it)
#
# cosmos_start makes a test CA in DIR with tests/lib/ca.sh unless DIR/ca.crt exists, writes the
# server's log to DIR/cosmos.log, and exports COSMOS_PID, COSMOS_ENDPOINT
# (https://127.0.0.1:PORT), COSMOS_KEY, COSMOS_CA_FILE and COSMOS_LOG. The key is COSMOS_KEY
# when set, else the Cosmos emulator's well-known key. SERVER_OPTION... go to server.js (for
# example --fault-429-rate 0.3); with --http the endpoint is http:// and no CA is needed.
# Callers stop the server in a trap: trap cosmos_stop EXIT.

COSMOS_LIB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
COSMOS_EMULATOR_KEY="C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
# The server listens within about a second, so this bound only catches a server that hangs.
COSMOS_START_TIMEOUT_S=30

cosmos_start() {
    local dir="${1:?usage: cosmos_start DIR [SERVER_OPTION...]}"
    shift
    local scheme=https
    local arg
    for arg in "$@"; do
        [[ "$arg" == --http ]] && scheme=http
    done

    mkdir -p "$dir"
    local tls=()
    if [[ "$scheme" == https ]]; then
        [[ -f "$dir/ca.crt" ]] || "$COSMOS_LIB_ROOT/tests/lib/ca.sh" "$dir" || return 1
        tls=(--tls-cert "$dir/server.crt" --tls-key "$dir/server.key")
    fi

    COSMOS_KEY="${COSMOS_KEY:-$COSMOS_EMULATOR_KEY}"
    COSMOS_LOG="$dir/cosmos.log"
    local ready="$dir/cosmos.ready"
    rm -f "$ready"
    node "$COSMOS_LIB_ROOT/tests/emulators/cosmos/server.js" --port 0 --bind 127.0.0.1 \
        "${tls[@]}" --key "$COSMOS_KEY" --ready-file "$ready" "$@" >"$COSMOS_LOG" 2>&1 &
    COSMOS_PID=$!
    export COSMOS_PID COSMOS_KEY COSMOS_LOG

    local deadline=$((SECONDS + COSMOS_START_TIMEOUT_S))
    while [[ ! -s "$ready" ]]; do
        if ! kill -0 "$COSMOS_PID" 2>/dev/null; then
            echo "cosmos_start: the server exited during start; its log $COSMOS_LOG ends with:" >&2
            tail -n 20 "$COSMOS_LOG" >&2
            unset COSMOS_PID
            return 1
        fi
        if ((SECONDS >= deadline)); then
            echo "cosmos_start: the server did not listen within ${COSMOS_START_TIMEOUT_S} s; see $COSMOS_LOG" >&2
            cosmos_stop
            return 1
        fi
        sleep 0.1
    done

    local port
    port="$(sed -n 's/.*"port": *\([0-9]*\).*/\1/p' "$ready")"
    export COSMOS_ENDPOINT="$scheme://127.0.0.1:$port"
    if [[ "$scheme" == https ]]; then
        export COSMOS_CA_FILE="$dir/ca.crt"
    else
        unset COSMOS_CA_FILE
    fi
}

# Stops the server by its PID: SIGTERM, then SIGKILL if it is still running after 5 s.
cosmos_stop() {
    [[ -n "${COSMOS_PID:-}" ]] || return 0
    kill "$COSMOS_PID" 2>/dev/null || true
    local tries=0
    while kill -0 "$COSMOS_PID" 2>/dev/null && ((tries < 50)); do
        sleep 0.1
        tries=$((tries + 1))
    done
    kill -9 "$COSMOS_PID" 2>/dev/null || true
    wait "$COSMOS_PID" 2>/dev/null || true
    unset COSMOS_PID
}

# Prints GET /_emulator/stats of the running server, for example
# {"requests":12,"byStatus":{"201":9,"429":3},"injected":{"429":3,"503":0},"rejected":{}}.
cosmos_stats() {
    # shellcheck disable=SC2016 # JavaScript, not shell, expands ${err.message} below.
    node -e '
const https = require("https");
const http = require("http");
const fs = require("fs");
const url = new URL("/_emulator/stats", process.env.COSMOS_ENDPOINT);
const ca = process.env.COSMOS_CA_FILE ? fs.readFileSync(process.env.COSMOS_CA_FILE) : undefined;
const transport = url.protocol === "https:" ? https : http;
transport
  .get(url, { ca }, (response) => {
    let text = "";
    response.on("data", (chunk) => (text += chunk));
    response.on("end", () => console.log(text));
  })
  .on("error", (err) => {
    console.error(`cosmos_stats: ${err.message}`);
    process.exit(1);
  });
'
}

# Prints one group of cosmos_stats (requests, byStatus, injected, rejected) as JSON, or with KEY
# one counter of that group. A counter the server has not incremented yet prints 0. Fails when
# the server cannot be read or has no such group.
cosmos_stat() {
    local stats
    stats="$(cosmos_stats)" || return 1
    # shellcheck disable=SC2016 # JavaScript, not shell, expands ${group} below.
    node -e '
const stats = JSON.parse(process.argv[1]);
const [group, key] = process.argv.slice(2);
if (!(group in stats)) {
  console.error(`cosmos_stat: the server has no counter group "${group}"`);
  process.exit(1);
}
console.log(key === undefined ? JSON.stringify(stats[group]) : stats[group][key] ?? 0);
' "$stats" "$@"
}
