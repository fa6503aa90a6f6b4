#!/usr/bin/env bash
# Checks servicebus-emulator's command line as a process: exit codes and messages for bad
# input, the ready file, the HTTP side, and a clean exit on SIGTERM.
#
#   cli_test.sh CASE      with SERVICEBUS_EMULATOR set to the binary
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
binary="${SERVICEBUS_EMULATOR:?set SERVICEBUS_EMULATOR to the servicebus-emulator binary}"
case_name="${1:?usage: cli_test.sh CASE}"
work="$(mktemp -d)"
pid=""
cleanup() {
    if [[ -n "$pid" ]]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Runs the binary expecting exit code $1 and stderr containing every later argument.
expect_exit() {
    local expected="$1"
    shift
    local status=0
    "$binary" "${args[@]}" >"$work/out" 2>"$work/err" || status=$?
    ((status == expected)) || fail "exit code $status, expected $expected; stderr: $(cat "$work/err")"
    local text
    for text in "$@"; do
        grep -qF -- "$text" "$work/err" || fail "stderr lacks \"$text\": $(cat "$work/err")"
    done
}

# Starts the emulator in the background and waits (bounded) for its ready file.
start() {
    "$binary" --config "$here/Config.json" --port 0 --http-port 0 \
        --ready-file "$work/ready.json" >"$work/log" 2>&1 &
    pid=$!
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -s "$work/ready.json" ]] && return 0
        kill -0 "$pid" 2>/dev/null || fail "the emulator exited early: $(cat "$work/log")"
        sleep 0.1
    done
    fail "no ready file after 10 s: $(cat "$work/log")"
}

case "$case_name" in
invalid_config_exits_2)
    printf '%s' '{"UserConfig": {"Namespaces": [{"Name": "ns", "Queues": [{"Name": "orders",
      "Properties": {"LockDuration": "one minute"}}]}]}}' >"$work/Config.json"
    args=(--config "$work/Config.json")
    expect_exit 2 "$work/Config.json" "LockDuration" "one minute"
    ;;
malformed_config_exits_2)
    printf '{"UserConfig": [' >"$work/Config.json"
    args=(--config "$work/Config.json")
    expect_exit 2 "$work/Config.json" "invalid JSON"
    ;;
missing_config_exits_2)
    args=(--config "$work/none.json")
    expect_exit 2 "$work/none.json"
    args=()
    expect_exit 2 "--config FILE is required"
    ;;
invalid_options_exit_2)
    args=(--config "$here/Config.json" --port 70000)
    expect_exit 2 "--port" "70000"
    args=(--config "$here/Config.json" --tls-port 0)
    expect_exit 2 "--tls-cert"
    args=(--config "$here/Config.json" --log-level loud)
    expect_exit 2 "loud"
    args=(--config "$here/Config.json" --max-queue-messages -1)
    expect_exit 2 "--max-queue-messages"
    args=(--config "$here/Config.json" --no-such-option)
    expect_exit 2 "--no-such-option"
    ;;
help_lists_options)
    "$binary" --help >"$work/out"
    for option in --config --bind --port --tls-port --tls-cert --tls-key --http-port \
        --key-name --key --allow-jwt --release-keeps-delivery-count --ignore-drain \
        --max-queue-messages --ready-file --log-level; do
        grep -qF -- "$option" "$work/out" || fail "--help does not list $option"
    done
    ;;
ready_file_and_sigterm)
    start
    grep -Eq '^\{"amqp":[0-9]+,"amqps":null,"http":[0-9]+\}$' "$work/ready.json" ||
        fail "unexpected ready file: $(cat "$work/ready.json")"
    http="$(sed -n 's/.*"http":\([0-9]*\).*/\1/p' "$work/ready.json")"
    [[ "$(curl -sf "http://127.0.0.1:$http/health")" == '{"status":"healthy"}' ]] ||
        fail "GET /health did not report healthy"
    curl -sf "http://127.0.0.1:$http/orders?api-version=2021-05" >"$work/orders.xml"
    grep -qF '<d2p1:ActiveMessageCount>0</d2p1:ActiveMessageCount>' "$work/orders.xml" ||
        fail "no ActiveMessageCount in $(cat "$work/orders.xml")"
    grep -qF '<MaxDeliveryCount>3</MaxDeliveryCount>' "$work/orders.xml" ||
        fail "orders is not MaxDeliveryCount 3"
    kill -TERM "$pid"
    status=0
    wait "$pid" || status=$?
    pid=""
    ((status == 0)) || fail "exit code $status after SIGTERM: $(tail -5 "$work/log")"
    grep -q '"event":"stopped"' "$work/log" || fail "no stopped line in the log"
    ;;
tls_files_invalid_exit_2)
    : >"$work/empty.pem"
    args=(--config "$here/Config.json" --port 0 --http-port 0 --tls-port 0
        --tls-cert "$work/empty.pem" --tls-key "$work/empty.pem")
    status=0
    "$binary" "${args[@]}" >"$work/out" 2>&1 || status=$?
    ((status == 2)) || fail "exit code $status, expected 2: $(cat "$work/out")"
    grep -qF "empty.pem" "$work/out" || fail "the error does not name the file: $(cat "$work/out")"
    ;;
port_in_use_fails)
    start
    amqp="$(sed -n 's/.*"amqp":\([0-9]*\).*/\1/p' "$work/ready.json")"
    status=0
    "$binary" --config "$here/Config.json" --port "$amqp" --http-port 0 >"$work/second" 2>&1 ||
        status=$?
    ((status == 1)) || fail "a second emulator on port $amqp exited $status: $(cat "$work/second")"
    grep -q '"event":"listen-failed"' "$work/second" || fail "no listen-failed line"
    ;;
*)
    echo "cli_test.sh: unknown case \"$case_name\"" >&2
    exit 2
    ;;
esac
echo "PASS: $case_name"
