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

count_range="expected a whole number from 1 to 999999999"
consumers_range="expected a whole number from 1 to 15"
interval_range="expected a whole number of seconds from 1 to 3600"

# Bad values: each message names the option, the value and the allowed range.
expect_usage_error "invalid value '08' for --count: $count_range" --count 08
expect_usage_error "invalid value '99999999999999999999' for --count: $count_range" \
    --count 99999999999999999999
expect_usage_error "invalid value 'abc' for --count: $count_range" --count abc
expect_usage_error "invalid value '0' for --count: $count_range" --count 0
expect_usage_error "invalid value '-5' for --count: $count_range" --count -5
expect_usage_error "invalid value '0' for --consumers: $consumers_range" --consumers 0
expect_usage_error "invalid value '16' for --consumers: $consumers_range" --consumers 16
expect_usage_error "invalid value 'x' for --consumers: $consumers_range" --consumers x
expect_usage_error "invalid value '99999999999999999999' for --polling-interval: $interval_range" \
    --scale --polling-interval 99999999999999999999
expect_usage_error "invalid value '0' for --polling-interval: $interval_range" \
    --scale --polling-interval 0
expect_usage_error "invalid value '3601' for --polling-interval: $interval_range" \
    --scale --polling-interval 3601

# Missing values: the option is last, or another option follows it.
expect_usage_error "missing value for --count: $count_range" --count
expect_usage_error "missing value for --count: $count_range" --count --scale
expect_usage_error "missing value for --consumers: $consumers_range" --consumers
expect_usage_error "missing value for --consumers: $consumers_range" --consumers --keep
expect_usage_error "missing value for --polling-interval: $interval_range" --scale --polling-interval
expect_usage_error "missing value for --polling-interval: $interval_range" \
    --polling-interval --scale

# Options that the chosen mode would ignore.
expect_usage_error "--polling-interval sets how often the --scale loop polls the queue: add --scale" \
    --polling-interval 5
expect_usage_error "--polling-interval sets how often the --scale loop polls the queue: add --scale" \
    --count 100 --polling-interval 30 --keep
expect_usage_error "--consumers sets a fixed number of consumers, but --scale starts as many" \
    --scale --consumers 3
expect_usage_error "with --scale, --count must be above" --scale --count 5
expect_usage_error "unknown argument '--bogus'" --bogus

if ((failures > 0)); then
    echo "$failures case(s) failed"
    exit 1
fi
