#!/usr/bin/env bash
# Runs one contract test against a fresh Service Bus emulator with a TLS port and a test CA:
#
#   run.sh node FILE.test.js [-- EMULATOR_OPTION...]
#   run.sh python FILE.py [unittest name...]
#
# Needs SERVICEBUS_EMULATOR (the built binary). The emulator's log is printed when the test
# fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
kind="${1:?usage: run.sh node|python FILE [names...]}"
file="${2:?usage: run.sh node|python FILE [names...]}"
shift 2
emulator_options=()
if [[ "$kind" == node && "${1:-}" == "--" ]]; then
    shift
    emulator_options=("$@")
    set --
fi

# shellcheck source=../../lib/emulator.sh
source "$root/tests/lib/emulator.sh"

work="$(mktemp -d)"
cleanup() {
    emulator_stop
    rm -rf "$work"
}
trap cleanup EXIT

bash "$root/tests/lib/ca.sh" "$work/ca"
emulator_start "$work" --tls-port 0 --tls-cert "$work/ca/server.crt" \
    --tls-key "$work/ca/server.key" --log-level debug "${emulator_options[@]}"
export NODE_EXTRA_CA_CERTS="$work/ca/ca.crt"
export EMULATOR_CA_FILE="$work/ca/ca.crt"
export NODE_PATH="$root/node_modules"

status=0
case "$kind" in
node)
    (cd "$here" && node --test --test-reporter=spec "$file") || status=$?
    ;;
python)
    (cd "$here" && /usr/bin/python3 -m unittest -v "${file%.py}${1:+.$1}") || status=$?
    ;;
*)
    echo "run.sh: unknown kind \"$kind\": use node or python" >&2
    exit 2
    ;;
esac

if ((status != 0)); then
    echo "---- servicebus-emulator log (last 80 lines) ----" >&2
    tail -n 80 "$work/emulator.log" >&2
fi
exit "$status"
