#!/usr/bin/env bash
# Receives 300 messages that span several 64 KB frames each, with one credit grant of 300
# (raw_proton tops up only after 150 messages), so the emulator dispatches the grant in
# many 1 MB steps. Each one must follow the one before until the credit is used.
#
#   large_test.sh        with SERVICEBUS_EMULATOR and RAW_PROTON set to the binaries
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
raw_proton="${RAW_PROTON:?set RAW_PROTON to the raw_proton binary}"
work="$(mktemp -d)"
# shellcheck source=../../lib/emulator.sh
source "$here/../../lib/emulator.sh"
cleanup() {
    emulator_stop
    rm -rf "$work"
}
trap cleanup EXIT

emulator_start "$work"
export SERVICEBUS_CONNECTION_STRING="$EMULATOR_CONNECTION_STRING"
export SERVICEBUS_QUEUE=bench

"$raw_proton" send --count 300 --size 65536 --inflight 100 >"$work/send.out"
# A stalled dispatch never ends on its own: the idle limit turns it into a short count.
status=0
"$raw_proton" receive --count 300 --inflight 300 --idle-ms 20000 >"$work/receive.out" || status=$?
if ((status != 0)); then
    echo "FAIL: raw_proton receive exited $status: $(cat "$work/receive.out")" >&2
    exit 1
fi
grep -qF '"received": 300' "$work/receive.out" || {
    echo "FAIL: $(cat "$work/receive.out")" >&2
    exit 1
}
echo "1 passed, 0 failed"
