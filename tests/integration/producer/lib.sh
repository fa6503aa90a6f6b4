# shellcheck shell=bash
# Shared setup of the producer's integration tests: a private temporary directory, the suite's
# helper libraries, and small assertions. Each test sources this file first; everything it
# starts is stopped by PID in the EXIT trap, also when the test fails.
#
# The tests get PRODUCER_BIN, SERVICEBUS_EMULATOR and WORKLOAD_ROOT from ctest.
set -euo pipefail

: "${PRODUCER_BIN:?set PRODUCER_BIN to the producer binary}"
: "${WORKLOAD_ROOT:?set WORKLOAD_ROOT to the repository root}"

PRODUCER_TEST_DIR="$(mktemp -d "${TMPDIR:-/tmp}/producer-test.XXXXXX")"
PRODUCER_TEST_LIB="$WORKLOAD_ROOT/tests/integration/producer"
# Node resolves @azure/service-bus from the repository's node_modules.
export NODE_PATH="$WORKLOAD_ROOT/node_modules"
declare -a PRODUCER_TEST_PIDS=()

# shellcheck source=../../lib/emulator.sh
source "$WORKLOAD_ROOT/tests/lib/emulator.sh"
# shellcheck source=../../lib/port_holder.sh
source "$WORKLOAD_ROOT/tests/lib/port_holder.sh"
# shellcheck source=../../lib/tcp_proxy.sh
source "$WORKLOAD_ROOT/tests/lib/tcp_proxy.sh"
# shellcheck source=../../lib/wait.sh
source "$WORKLOAD_ROOT/tests/lib/wait.sh"

producer_test_cleanup() {
    local pid
    for pid in "${PRODUCER_TEST_PIDS[@]}"; do
        # A process stopped by a test handles SIGTERM only once it runs again.
        kill -CONT "$pid" 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    # A paused emulator (SIGSTOP) handles the SIGTERM of emulator_stop only once it runs again.
    if [[ -n "${EMULATOR_PID:-}" ]]; then
        kill -CONT "$EMULATOR_PID" 2>/dev/null || true
    fi
    emulator_stop
    if declare -F rabbitmq_stop >/dev/null; then
        rabbitmq_stop
    fi
    rm -rf "$PRODUCER_TEST_DIR"
}
trap producer_test_cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Prints a field of the producer's JSON summary line in LOG.
summary_field() {
    local log="$1" field="$2"
    grep '"event":"summary"' "$log" | tail -1 | sed -n "s/.*\"$field\":\([0-9.]*\).*/\1/p"
}

# Runs the producer with a bound on wall time; its stdout (JSON lines) goes to $1.
run_producer() {
    local log="$1"
    shift
    local status=0
    timeout 300 "$PRODUCER_BIN" --progress json --progress-interval 2s "$@" >"$log" \
        2>"$log.stderr" || status=$?
    return "$status"
}

# Fails unless the producer's summary in LOG counts EXPECTED accepted and none rejected.
expect_accepted() {
    local log="$1" expected="$2"
    local accepted rejected
    accepted="$(summary_field "$log" accepted)"
    rejected="$(summary_field "$log" rejected)"
    [[ "$accepted" == "$expected" ]] || fail "producer accepted '$accepted', expected $expected"
    [[ "$rejected" == "0" ]] || fail "producer rejected $rejected messages"
}

# Starts the fake Entra endpoint; exports TOKEN_ENDPOINT_PORT. Arguments go to the endpoint.
token_endpoint_start() {
    local port_file
    local i
    port_file="$(mktemp -u "$PRODUCER_TEST_DIR/token-endpoint.XXXXXX")"
    /usr/bin/python3 "$WORKLOAD_ROOT/tests/lib/token_endpoint.py" --port-file "$port_file" "$@" \
        >"$port_file.out" 2>&1 &
    PRODUCER_TEST_PIDS+=("$!")
    for ((i = 0; i < 100; i++)); do
        [[ -s "$port_file" ]] && break
        sleep 0.1
    done
    [[ -s "$port_file" ]] || fail "the token endpoint did not start: $(cat "$port_file.out")"
    TOKEN_ENDPOINT_PORT="$(cat "$port_file")"
    export TOKEN_ENDPOINT_PORT
}

# start_open_ended_producer LOG RATE [OPTION...]: starts the producer in the background on
# test-queue of the emulator, with --count 0 (no end), RATE messages/s, JSON progress every
# second and the extra OPTIONs, and returns once a progress line counts an accepted message.
# Sets PRODUCER_PID, which the EXIT trap stops.
start_open_ended_producer() {
    local log="$1" rate="$2"
    shift 2
    local i
    "$PRODUCER_BIN" --connection-string "$EMULATOR_CONNECTION_STRING" --queue test-queue \
        --count 0 --rate "$rate" --progress json --progress-interval 1s "$@" >"$log" \
        2>"$log.stderr" &
    PRODUCER_PID=$!
    PRODUCER_TEST_PIDS+=("$PRODUCER_PID")
    for ((i = 0; i < 300; i++)); do
        grep -q '"event":"progress".*"accepted":[1-9]' "$log" && return 0
        sleep 0.1
    done
    fail "no message was accepted"
}

# flaky_broker_start OPTION...: starts flaky_broker.py with OPTION... and waits until it
# listens. Sets BROKER_REPORT (the report the broker writes when a connection closes) and
# BROKER_CONNECTION_STRING (plain AMQP with SASL ANONYMOUS, for --auth none).
flaky_broker_start() {
    local port_file="$PRODUCER_TEST_DIR/broker.port"
    BROKER_REPORT="$PRODUCER_TEST_DIR/broker-report.json"
    /usr/bin/python3 "$PRODUCER_TEST_LIB/flaky_broker.py" --port-file "$port_file" \
        --report "$BROKER_REPORT" "$@" >"$PRODUCER_TEST_DIR/broker.log" 2>&1 &
    PRODUCER_TEST_PIDS+=("$!")
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -s "$port_file" ]] && break
        sleep 0.1
    done
    [[ -s "$port_file" ]] || fail "the broker did not start: $(cat "$PRODUCER_TEST_DIR/broker.log")"
    BROKER_CONNECTION_STRING="Endpoint=amqp://127.0.0.1:$(cat "$port_file");SharedAccessKeyName=unused;SharedAccessKey=unused"
    export BROKER_REPORT BROKER_CONNECTION_STRING
}

# Waits up to 5 s for the broker's report, which it writes once the producer's connection has
# closed, and fails without it.
broker_report_wait() {
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -s "$BROKER_REPORT" ]] && return 0
        sleep 0.1
    done
    fail "the broker wrote no report: $(cat "$PRODUCER_TEST_DIR/broker.log")"
}

# proxy_start CONNECTION_STRING PORT [OPTION...]: stops the proxy of an earlier call, starts
# tcp_proxy.py in front of PORT with the OPTIONs, and sets THROUGH_PROXY to CONNECTION_STRING
# with PORT replaced by the proxy's.
proxy_start() {
    local connection_string="$1" port="$2"
    shift 2
    if [[ -n "${TCP_PROXY_PID:-}" ]]; then
        kill "$TCP_PROXY_PID" 2>/dev/null || true
    fi
    tcp_proxy_start "$PRODUCER_TEST_DIR" "$port" "$@" || fail "the proxy did not start"
    PRODUCER_TEST_PIDS+=("$TCP_PROXY_PID")
    THROUGH_PROXY="${connection_string/:$port;/:$TCP_PROXY_PORT;}"
}

# run_producer_within SECONDS LOG [OPTION...]: runs the producer like run_producer, but fails
# the test when it is still running after SECONDS. Sets PRODUCER_STATUS to its exit status.
run_producer_within() {
    local seconds="$1" log="$2"
    shift 2
    PRODUCER_STATUS=0
    timeout "$seconds" "$PRODUCER_BIN" --progress json "$@" >"$log" 2>"$log.stderr" ||
        PRODUCER_STATUS=$?
    [[ "$PRODUCER_STATUS" != 124 ]] || fail "the producer was still running after $seconds s"
}

# Fails when the producer's LOG reports a lost connection.
expect_no_disconnect() {
    local log="$1"
    if grep -q '"event":"disconnected"' "$log"; then
        fail "a connection was lost: $(grep '"event":"disconnected"' "$log" | head -n 1)"
    fi
}
