# shellcheck shell=bash
# Shared steps of the consumer's integration tests. Source it from a test script, then call
# consumer_test_setup first; it starts the Service Bus emulator and the strict Cosmos test
# server on free loopback ports and stops everything it started, by PID, when the script exits.
#
# Environment from CTest: CONSUMER_BIN (the consumer binary), SERVICEBUS_EMULATOR (the
# emulator binary) and WORKLOAD_ROOT (the source tree, for node_modules and tests/lib).

set -euo pipefail

root="${WORKLOAD_ROOT:?set WORKLOAD_ROOT to the source tree}"
here="$root/tests/integration/consumer"
# shellcheck source=../../lib/cosmos.sh
source "$root/tests/lib/cosmos.sh"
# shellcheck source=../../lib/emulator.sh
source "$root/tests/lib/emulator.sh"
export NODE_PATH="$root/node_modules"

CONSUMER_PID=""
test_dir=""

cleanup() {
    if [[ -n "$CONSUMER_PID" ]]; then
        kill -KILL "$CONSUMER_PID" 2>/dev/null || true
        wait "$CONSUMER_PID" 2>/dev/null || true
    fi
    emulator_stop || true
    cosmos_stop || true
    if [[ -n "$test_dir" && "${KEEP_TEST_DIR:-}" != 1 ]]; then
        rm -rf "$test_dir"
    fi
}

fail() {
    echo "FAIL: $*" >&2
    if [[ -n "$test_dir" ]]; then
        for log in "$test_dir"/consumer*.log; do
            [[ -f "$log" ]] || continue
            echo "--- last lines of $log" >&2
            tail -n 30 "$log" >&2
        done
    fi
    exit 1
}

# consumer_test_setup [COSMOS_SERVER_OPTION...]
consumer_test_setup() {
    test_dir="$(mktemp -d)"
    trap cleanup EXIT
    cosmos_start "$test_dir/cosmos" "$@" || fail "the Cosmos test server did not start"
    emulator_start "$test_dir/emulator" || fail "the Service Bus emulator did not start"
    export COSMOS_DATABASE="itest" COSMOS_CONTAINER="results"
}

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# http_get URL: prints the body; fails on connection errors only (any status is printed).
http_get() {
    /usr/bin/python3 - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
        sys.stdout.write(response.read().decode())
except urllib.error.HTTPError as error:
    sys.stdout.write(error.read().decode())
PY
}

# start_consumer QUEUE LOG [FLAG...]: starts the consumer in the background and waits until
# /healthz answers. Exports CONSUMER_PID and CONSUMER_HEALTH_PORT.
start_consumer() {
    local queue="$1" log="$2"
    shift 2
    CONSUMER_HEALTH_PORT="$(free_port)"
    SERVICEBUS_CONNECTION_STRING="$EMULATOR_CONNECTION_STRING" SERVICEBUS_QUEUE="$queue" \
        HEALTH_PORT="$CONSUMER_HEALTH_PORT" HEALTH_BIND=127.0.0.1 \
        "$CONSUMER_BIN" "$@" >"$log" 2>&1 &
    CONSUMER_PID=$!
    export CONSUMER_PID CONSUMER_HEALTH_PORT
    local i
    for ((i = 0; i < 100; i++)); do
        if "$CONSUMER_BIN" --check --health-port "$CONSUMER_HEALTH_PORT" 2>/dev/null; then
            return 0
        fi
        kill -0 "$CONSUMER_PID" 2>/dev/null || fail "the consumer exited during start"
        sleep 0.1
    done
    fail "the consumer's /healthz did not answer within 10 s"
}

# metric NAME: prints the value of an unlabelled metric of the running consumer.
metric() {
    http_get "http://127.0.0.1:$CONSUMER_HEALTH_PORT/metrics" |
        awk -v name="$1" '$1 == name { print $2; found = 1 } END { if (!found) print 0 }'
}

# queue_count QUEUE FIELD: ActiveMessageCount or DeadLetterMessageCount from the admin API.
queue_count() {
    http_get "http://127.0.0.1:$EMULATOR_HTTP_PORT/$1?api-version=2021-05" |
        grep -o "$2>[0-9]*" | head -n 1 | cut -d '>' -f 2
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.2 s; fails when it never succeeds.
# The bound only stops a hung test; no assertion depends on how fast the consumer is.
wait_until() {
    local limit="$1"
    shift
    local deadline=$((SECONDS + limit))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

queue_drained() {
    local queue="$1" poison="$2"
    [[ "$(queue_count "$queue" ActiveMessageCount)" == 0 &&
        "$(queue_count "$queue" DeadLetterMessageCount)" == "$poison" ]]
}

# stop_consumer SIGNAL: signals the consumer, waits for it and sets CONSUMER_STATUS to its
# exit status and CONSUMER_STOP_SECONDS to how long it took to exit.
stop_consumer() {
    local started=$SECONDS
    CONSUMER_STATUS=0
    kill "-$1" "$CONSUMER_PID"
    wait "$CONSUMER_PID" || CONSUMER_STATUS=$?
    CONSUMER_STOP_SECONDS=$((SECONDS - started))
    CONSUMER_PID=""
}

seed() {
    node "$here/seed.js" "$@" || fail "seeding the queue failed"
}

check_end_state() {
    node "$here/check.js" "$@" || fail "the end state is wrong"
}
