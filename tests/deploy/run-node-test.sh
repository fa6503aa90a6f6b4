#!/usr/bin/env bash
# Runs the one node:test case NAME of FILE, so that each case is its own ctest entry.
# Fails when no case has that name, which node --test-name-pattern alone reports as a pass.
#
#   tests/deploy/run-node-test.sh FILE NAME
set -euo pipefail

if (($# != 2)); then
    echo "usage: $0 FILE NAME" >&2
    exit 2
fi
file="$1"
name="$2"
# Escape the regular expression characters of the name, then anchor it.
# shellcheck disable=SC2016 # $ inside the sed expression is a character to escape
pattern="^$(printf '%s' "$name" | sed 's/[][\.*^$(){}?+|/]/\\&/g')\$"

output="$(node --test --test-name-pattern="$pattern" "$file" 2>&1)" && status=0 || status=$?
printf '%s\n' "$output"
if ((status != 0)); then
    exit "$status"
fi
if ! grep -q '^# pass 1$' <<<"$output"; then
    echo "run-node-test: no passing case named \"$name\" in $file" >&2
    exit 1
fi
