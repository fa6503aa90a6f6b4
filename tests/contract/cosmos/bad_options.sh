#!/usr/bin/env bash
# Checks that the Cosmos test server exits 2, naming the bad value, for invalid options.
set -uo pipefail

server="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../emulators/cosmos" && pwd)/server.js"
failures=0

# expect_usage_error EXPECTED_TEXT OPTION...
expect_usage_error() {
    local expected="$1"
    shift
    local output status
    output="$(node "$server" "$@" 2>&1)"
    status=$?
    if ((status != 2)); then
        echo "FAIL: '$*' exited $status, expected 2: $output"
        failures=$((failures + 1))
    elif [[ "$output" != *"$expected"* ]]; then
        echo "FAIL: '$*' printed '$output', expected it to contain '$expected'"
        failures=$((failures + 1))
    else
        echo "ok: '$*' -> $output"
    fi
}

expect_usage_error "--tls-cert" --port 0
expect_usage_error "'70000'" --http --port 70000
expect_usage_error "'1.5'" --http --fault-429-rate 1.5
expect_usage_error "sum must be at most 1" --http --fault-429-rate 0.6 --fault-503-rate 0.6
expect_usage_error "'often'" --http --fault-scope often
expect_usage_error "'loud'" --http --log-level loud
expect_usage_error "'-5'" --http --response-delay-ms -5
expect_usage_error "'0.5'" --http --response-delay-ms 0.5
expect_usage_error "--key" --http --key 'not base64!'
expect_usage_error "'--colour'" --http --colour
expect_usage_error "/nonexistent/server.crt" --tls-cert /nonexistent/server.crt --tls-key /nonexistent/server.key

if ((failures > 0)); then
    exit 1
fi
