#!/usr/bin/env bash
# Checks tests/lib/cosmos_count.js, the read-back CLI other tests rely on, against the test
# server: init, count, ids, get and dump, and the exit status for a missing document.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
# shellcheck source=tests/lib/cosmos.sh
source "$root/tests/lib/cosmos.sh"
cd "$root"

work="$(mktemp -d)"
cleanup() {
    cosmos_stop
    rm -rf "$work"
}
trap cleanup EXIT

cosmos_start "$work"
export COSMOS_DATABASE=readback COSMOS_CONTAINER=docs
cli=(node "$root/tests/lib/cosmos_count.js")
failures=0

# expect NAME EXPECTED ACTUAL
expect() {
    if [[ "$2" == "$3" ]]; then
        echo "ok: $1"
    else
        echo "FAIL: $1: expected '$2', got '$3'"
        failures=$((failures + 1))
    fi
}

status=0
"${cli[@]}" count >/dev/null 2>&1 || status=$?
expect "count before init fails" 1 "$status"

"${cli[@]}" init
expect "count after init" 0 "$("${cli[@]}" count)"

# shellcheck disable=SC2016 # JavaScript, not shell, expands ${id} below.
NODE_EXTRA_CA_CERTS="$COSMOS_CA_FILE" node -e '
const { CosmosClient } = require("@azure/cosmos");
const client = new CosmosClient({ endpoint: process.env.COSMOS_ENDPOINT, key: process.env.COSMOS_KEY });
const container = client.database("readback").container("docs");
(async () => {
  for (const id of ["c", "a", "b"]) {
    await container.items.upsert({ id, data: `value ${id}` });
  }
})().catch((err) => { console.error(err); process.exit(1); });
'

expect "count" 3 "$("${cli[@]}" count)"
expect "ids sorted" "a b c" "$("${cli[@]}" ids | tr '\n' ' ' | sed 's/ $//')"
expect "get" "value b" "$("${cli[@]}" get b | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).data)')"
expect "dump" "a,b,c" "$("${cli[@]}" dump | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).map((d) => d.id).join())')"

status=0
"${cli[@]}" get missing >/dev/null 2>&1 || status=$?
expect "get of a missing document exits 3" 3 "$status"

status=0
"${cli[@]}" count --key "$(openssl rand -base64 64 | tr -d '\n')" >/dev/null 2>&1 || status=$?
expect "a wrong key exits 1" 1 "$status"

expect "cosmos_stats counts requests" true \
    "$(cosmos_stats | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).requests > 0)')"

((failures == 0))
