#!/usr/bin/env bash
# Message-ids and bodies that are hard to carry into Cosmos DB: non-ASCII characters of every
# UTF-8 length, quotes, control characters and escaped NUL characters are stored exactly. This
# runs against a container partitioned on /id and one partitioned on /data, and in both the
# partition key header must match what the strict test server reads from the document. JSON inputs that a C string
# reader changes silently (duplicate fields, lone surrogates, text that is not JSON) are
# dead-lettered with their reasons, and nothing else is.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup

input() {
    node "$here/cosmos_input.js" "$@"
}

all_settled() {
    local completed dead_lettered
    completed="$(metric consumer_messages_completed_total)"
    dead_lettered="$(metric consumer_messages_dead_lettered_total)"
    [[ "$(queue_count "$QUEUE" ActiveMessageCount)" == 0 ]] &&
        ((completed + dead_lettered == SEEDED))
}

# run_case QUEUE CONTAINER FIELD: seeds QUEUE, drains it into CONTAINER partitioned on /FIELD
# and checks the result.
run_case() {
    local queue="$1" container="$2" field="$3"
    local expected="$test_dir/expected-$container.json"

    input seed "$queue" "$expected" || fail "seeding $queue failed"
    SEEDED="$(node -e 'const e = JSON.parse(require("fs").readFileSync(process.argv[1]));
        console.log(e.good.length + e.poison.length)' "$expected")"
    COSMOS_CONTAINER="$container" COSMOS_PARTITION_KEY_PATH="/$field" \
        start_consumer "$queue" "$test_dir/consumer-$container.log" \
        --cosmos-ca-file "$COSMOS_CA_FILE"
    QUEUE="$queue"
    # Wait for every message to be settled either way, so that the check below lists each
    # message that ended up in the wrong place.
    wait_until 120 all_settled || fail "the consumer did not settle every message of $queue"
    stop_consumer TERM
    [[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS"
    COSMOS_CONTAINER="$container" PARTITION_KEY_FIELD="$field" input check "$queue" "$expected" ||
        fail "the documents or dead letters in $container are wrong"
}

run_case orders results id
run_case test-queue bydata data
echo "cosmos_input: ok"
