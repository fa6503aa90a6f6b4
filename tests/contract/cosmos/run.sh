#!/usr/bin/env bash
# Runs one contract check of the strict Cosmos DB test server against a server started for it.
#
#   tests/contract/cosmos/run.sh CASE [SERVER_OPTION...]
#
# SERVER_OPTION... go to the server (for example --fault-429-first 3); CASE names a function in
# checks.js.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/lib/cosmos.sh
source "$here/../../lib/cosmos.sh"

case_name="${1:?usage: run.sh CASE [SERVER_OPTION...]}"
shift

work="$(mktemp -d)"
cleanup() {
    local status=$?
    cosmos_stop
    if ((status != 0)); then
        echo "--- server log ---"
        cat "$work/cosmos.log"
    fi
    rm -rf "$work"
}
trap cleanup EXIT

cosmos_start "$work" "$@"
NODE_EXTRA_CA_CERTS="${COSMOS_CA_FILE:-}" node "$here/checks.js" "$case_name"
