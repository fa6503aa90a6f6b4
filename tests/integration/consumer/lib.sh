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
# shellcheck source=../../lib/port_holder.sh
source "$root/tests/lib/port_holder.sh"
# shellcheck source=../../lib/tcp_proxy.sh
source "$root/tests/lib/tcp_proxy.sh"
# shellcheck source=../../lib/wait.sh
source "$root/tests/lib/wait.sh"
export NODE_PATH="$root/node_modules"

CONSUMER_PID=""
STALLED_COSMOS_PID=""
PROXY_PID=""
OTHER_PIDS=() # further processes that a test started in the background; cleanup stops them
test_dir=""

cleanup() {
    if [[ -n "$CONSUMER_PID" ]]; then
        kill -KILL "$CONSUMER_PID" 2>/dev/null || true
        wait "$CONSUMER_PID" 2>/dev/null || true
    fi
    local pid
    # TCP_PROXY_PID is set as soon as tcp_proxy_start has started a proxy, before the caller
    # keeps it in PROXY_PID or OTHER_PIDS, so a test stopped in between leaves no proxy behind.
    for pid in "$STALLED_COSMOS_PID" "$PROXY_PID" "${OTHER_PIDS[@]}" "${TCP_PROXY_PID:-}"; do
        [[ -n "$pid" ]] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
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

# consumer_test_setup [COSMOS_SERVER_OPTION...]: keeps a test_dir that the script made
# before (with its own EXIT trap calling cleanup), so that it can write EMULATOR_CONFIG there.
consumer_test_setup() {
    if [[ -z "$test_dir" ]]; then
        test_dir="$(mktemp -d)"
        trap cleanup EXIT
    fi
    cosmos_start "$test_dir/cosmos" "$@" || fail "the Cosmos test server did not start"
    emulator_start "$test_dir/emulator" || fail "the Service Bus emulator did not start"
    export COSMOS_DATABASE="itest" COSMOS_CONTAINER="results"
}

# stalled_cosmos_start [--mode MODE]: starts stalled_cosmos.py in $test_dir, a Cosmos stand-in
# that passes the start-up check and by default never responds to a document write. Sets
# STALLED_COSMOS_PORT, and STAND_IN_OPTIONS to the consumer options that point the consumer at
# the stand-in. The writes it received are the lines of $test_dir/sink.requests, and cleanup
# stops it.
stalled_cosmos_start() {
    rm -f "$test_dir/sink.ready" # a stand-in started before this one left its port there
    /usr/bin/python3 "$here/stalled_cosmos.py" --ready-file "$test_dir/sink.ready" \
        --requests-file "$test_dir/sink.requests" "$@" >"$test_dir/sink.log" 2>&1 &
    STALLED_COSMOS_PID=$!
    sink_ready() { [[ -s "$test_dir/sink.ready" ]]; }
    wait_until 30 sink_ready ||
        fail "the Cosmos stand-in did not start: $(cat "$test_dir/sink.log")"
    STALLED_COSMOS_PORT="$(sed -n 's/.*"port": *\([0-9]*\).*/\1/p' "$test_dir/sink.ready")"
    STAND_IN_OPTIONS=(--cosmos-endpoint "http://127.0.0.1:$STALLED_COSMOS_PORT"
        --cosmos-key "$COSMOS_EMULATOR_KEY" --cosmos-database itest --cosmos-container results)
}

# proxy_start [OPTION...]: stops the proxy of an earlier call and starts tests/lib/tcp_proxy.py in
# front of the emulator's AMQP port with the OPTIONs, logging to $test_dir/proxy.log. Sets PROXY_PID and THROUGH_PROXY, the
# emulator's connection string with the proxy's port in place of the emulator's. cleanup stops
# the proxy.
proxy_start() {
    if [[ -n "$PROXY_PID" ]]; then
        kill "$PROXY_PID" 2>/dev/null || true
        wait "$PROXY_PID" 2>/dev/null || true
    fi
    tcp_proxy_start "$test_dir" "$EMULATOR_AMQP_PORT" "$@" || fail "the proxy did not start"
    PROXY_PID=$TCP_PROXY_PID
    THROUGH_PROXY="${EMULATOR_CONNECTION_STRING/:$EMULATOR_AMQP_PORT;/:$TCP_PROXY_PORT;}"
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

# write_queue_config FILE LOCK_DURATION MAX_DELIVERY_COUNT QUEUE...: writes an emulator
# Config.json whose queues all have these properties; durations are ISO 8601 (PT5M). Point
# EMULATOR_CONFIG at it before consumer_test_setup.
write_queue_config() {
    local file="$1" lock="$2" max_delivery="$3"
    shift 3
    local queues="" name
    for name in "$@"; do
        queues+="${queues:+,}{\"Name\": \"$name\", \"Properties\": {\"LockDuration\": \"$lock\","
        queues+=" \"MaxDeliveryCount\": $max_delivery, \"RequiresSession\": false}}"
    done
    printf '{"UserConfig": {"Namespaces": [{"Name": "sbemulatorns", "Queues": [%s], "Topics": []}],
  "Logging": {"Type": "File"}}}\n' "$queues" >"$file"
}

# start_consumer QUEUE LOG [FLAG...]: starts the consumer in the background and waits until
# /healthz responds. Exports CONSUMER_PID, CONSUMER_HEALTH_PORT and CONSUMER_QUEUE. The consumer
# binds a free health port itself (HEALTH_PORT=0) and logs it at info, so that no test running
# beside this one can take the port between its choice and its use.
start_consumer() {
    local queue="$1" log="$2"
    shift 2
    CONSUMER_QUEUE="$queue"
    CONSUMER_HEALTH_PORT=""
    SERVICEBUS_CONNECTION_STRING="$EMULATOR_CONNECTION_STRING" SERVICEBUS_QUEUE="$queue" \
        HEALTH_PORT=0 HEALTH_BIND=127.0.0.1 "$CONSUMER_BIN" "$@" >"$log" 2>&1 &
    CONSUMER_PID=$!
    export CONSUMER_PID CONSUMER_QUEUE
    local i
    for ((i = 0; i < 100; i++)); do
        # The log may not exist yet, because the background shell opens it after the fork.
        # The closing quote of the message makes sure the whole port number was written.
        if [[ -z "$CONSUMER_HEALTH_PORT" && -f "$log" ]]; then
            CONSUMER_HEALTH_PORT="$(sed -n '/"event":"health-listening"/{
                s/.*health server on 127\.0\.0\.1:\([0-9][0-9]*\)".*/\1/p
                q
            }' "$log")"
        fi
        if [[ -n "$CONSUMER_HEALTH_PORT" ]] &&
            "$CONSUMER_BIN" --check --health-port "$CONSUMER_HEALTH_PORT" 2>/dev/null; then
            export CONSUMER_HEALTH_PORT
            return 0
        fi
        kill -0 "$CONSUMER_PID" 2>/dev/null || fail "the consumer exited during start"
        sleep 0.1
    done
    [[ -n "$CONSUMER_HEALTH_PORT" ]] ||
        fail "the consumer logged no health-listening line within 10 s (it is logged at info)"
    fail "the consumer's /healthz did not answer within 10 s"
}

# metric NAME: prints the value of a metric of the running consumer, NAME with its labels as
# /metrics writes them. A missing metric prints nothing and an error on stderr, so that a
# comparison with it fails rather than reading 0.
metric() {
    local body
    body="$(http_get "http://127.0.0.1:$CONSUMER_HEALTH_PORT/metrics")" || {
        echo "metric: GET /metrics of the consumer failed" >&2
        return 1
    }
    awk -v name="$1" '$1 == name { print $2; found = 1 }
        END { if (!found) { print "metric: " name " not found in /metrics" > "/dev/stderr"; exit 1 } }' \
        <<<"$body"
}

# consumer_ready: succeeds when the running consumer's /readyz reports ready.
consumer_ready() {
    http_get "http://127.0.0.1:$CONSUMER_HEALTH_PORT/readyz" | grep -q '"status":"ready"'
}

# expect_no_failures: fails unless the running consumer abandoned no message, lost no lock and
# never reconnected, as in a run where nothing fails and check.js end requires exact counts.
expect_no_failures() {
    local counter
    for counter in consumer_messages_abandoned_total consumer_locks_lost_total consumer_reconnects_total; do
        [[ "$(metric "$counter")" == 0 ]] || fail "$counter is $(metric "$counter"), expected 0"
    done
}

# counters_add_up: reads the running consumer's end counters into RECEIVED, COMPLETED,
# ABANDONED, DEAD_LETTERED and LOCKS_LOST, prints them, and fails unless every received delivery
# ended in exactly one of the others. Call it once the queue is drained and nothing is in flight.
counters_add_up() {
    RECEIVED="$(metric consumer_messages_received_total)"
    COMPLETED="$(metric consumer_messages_completed_total)"
    ABANDONED="$(metric consumer_messages_abandoned_total)"
    DEAD_LETTERED="$(metric consumer_messages_dead_lettered_total)"
    LOCKS_LOST="$(metric consumer_locks_lost_total)"
    echo "received $RECEIVED, completed $COMPLETED, abandoned $ABANDONED," \
        "dead-lettered $DEAD_LETTERED, locks lost $LOCKS_LOST"
    ((RECEIVED == COMPLETED + ABANDONED + DEAD_LETTERED + LOCKS_LOST)) ||
        fail "received $RECEIVED != completed $COMPLETED + abandoned $ABANDONED +" \
            "dead-lettered $DEAD_LETTERED + locks lost $LOCKS_LOST"
}

# settled_count: prints the messages the running consumer has completed or dead-lettered.
settled_count() {
    local completed dead_lettered
    completed="$(metric consumer_messages_completed_total 2>/dev/null)" || return 1
    dead_lettered="$(metric consumer_messages_dead_lettered_total 2>/dev/null)" || return 1
    echo $((completed + dead_lettered))
}

# queue_count QUEUE FIELD: ActiveMessageCount or DeadLetterMessageCount from the admin API.
queue_count() {
    http_get "http://127.0.0.1:$EMULATOR_HTTP_PORT/$1?api-version=2021-05" |
        grep -o "$2>[0-9]*" | head -n 1 | cut -d '>' -f 2
}

queue_drained() {
    local queue="$1" poison="$2"
    [[ "$(queue_count "$queue" ActiveMessageCount)" == 0 &&
        "$(queue_count "$queue" DeadLetterMessageCount)" == "$poison" ]]
}

# save_final_metrics: when the consumer's queue on the emulator is empty, saves its /metrics
# to $test_dir/metrics-final.txt for check_end_state; otherwise removes that file. Checking
# the queue first makes the copy final: no delivery is left, and the consumer counts each
# outcome before it sends it.
save_final_metrics() {
    local file="$test_dir/metrics-final.txt"
    rm -f "$file"
    [[ -n "${EMULATOR_HTTP_PORT:-}" && -n "${CONSUMER_QUEUE:-}" ]] || return 0
    [[ "$(queue_count "$CONSUMER_QUEUE" ActiveMessageCount)" == 0 ]] || return 0
    if http_get "http://127.0.0.1:$CONSUMER_HEALTH_PORT/metrics" >"$file.tmp"; then
        mv "$file.tmp" "$file"
    else
        rm -f "$file.tmp"
    fi
}

# stop_consumer SIGNAL [LIMIT_SECONDS]: signals the consumer and waits for it to exit, at
# most LIMIT_SECONDS (default 120, far above the default 25 s grace period, so that only a
# consumer that ignores the signal fails). Sets CONSUMER_STATUS to its exit status.
stop_consumer() {
    local signal="$1" limit="${2:-120}"
    save_final_metrics
    CONSUMER_STATUS=0
    kill "-$signal" "$CONSUMER_PID"
    wait_until "$limit" consumer_exited || fail "the consumer still runs $limit s after SIG$signal"
    wait "$CONSUMER_PID" || CONSUMER_STATUS=$?
    CONSUMER_PID=""
}

# Bash reaps its exited children at once, so kill -0 fails as soon as the process is gone.
consumer_exited() {
    ! kill -0 "$CONSUMER_PID" 2>/dev/null
}

seed() {
    node "$here/seed.js" "$@" || fail "seeding the queue failed"
}

# check_end_state QUEUE EXPECTED [--stop-state FILE]: runs check.js end with the metrics
# that the last stop_consumer saved.
check_end_state() {
    [[ -f "$test_dir/metrics-final.txt" ]] ||
        fail "no final metrics: stop the consumer only once the queue is empty"
    node "$here/check.js" end "$@" --metrics "$test_dir/metrics-final.txt" ||
        fail "the end state is wrong"
}

# check_stopped_state QUEUE EXPECTED STATE [--unlocked] [--consumer-log FILE]: runs check.js
# stopped, which writes STATE for check_end_state --stop-state.
check_stopped_state() {
    node "$here/check.js" stopped "$@" || fail "the state after the stop is wrong"
}
