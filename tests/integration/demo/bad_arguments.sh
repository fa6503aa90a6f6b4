#!/usr/bin/env bash
# scripts/demo rejects bad arguments with exit 2 and a message naming the value, before it
# installs, builds or starts anything.
set -euo pipefail

root="${WORKLOAD_ROOT:?WORKLOAD_ROOT must point at the repository}"
failures=0

# expect_usage_error MESSAGE ARG...: the demo exits 2 and its stderr contains MESSAGE.
expect_usage_error() {
    local expected="$1" output status=0
    shift
    output="$(timeout 20 "$root/scripts/demo" "$@" 2>&1 >/dev/null)" || status=$?
    if [[ "$status" != 2 ]]; then
        echo "FAIL scripts/demo $*: exit $status, expected 2 ($output)"
        failures=$((failures + 1))
    elif [[ "$output" != *"$expected"* ]]; then
        echo "FAIL scripts/demo $*: message \"$output\" does not contain \"$expected\""
        failures=$((failures + 1))
    elif [[ "$output" == *"value too great"* || "$output" == *"syntax error"* ]]; then
        echo "FAIL scripts/demo $*: bash arithmetic error leaked: $output"
        failures=$((failures + 1))
    else
        echo "ok   scripts/demo $*"
    fi
}

expect_usage_error "invalid value '08' for --count" --count 08
expect_usage_error "invalid value '99999999999999999999' for --count" --count 99999999999999999999
expect_usage_error "invalid value 'abc' for --count" --count abc
expect_usage_error "invalid value '' for --count" --count
expect_usage_error "--count must be from 1" --count 0
expect_usage_error "--consumers must be from 1 to 15" --consumers 16
expect_usage_error "invalid value '99999999999999999999' for --polling-interval" \
    --polling-interval 99999999999999999999
expect_usage_error "--polling-interval must be from 1 to 3600 seconds" --polling-interval 0
expect_usage_error "--polling-interval must be from 1 to 3600 seconds" --polling-interval 3601
expect_usage_error "with --scale, --count must be above" --scale --count 5
expect_usage_error "unknown argument '--bogus'" --bogus

if ((failures > 0)); then
    echo "$failures case(s) failed"
    exit 1
fi
