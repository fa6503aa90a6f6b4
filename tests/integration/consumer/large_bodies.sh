#!/usr/bin/env bash
# Bodies close to the queue's 256 KiB message limit: ASCII, multi-byte UTF-8 and characters
# that JSON escapes. The strict test server returns the whole document in each upsert's
# response, so the consumer reads responses many times longer than its receive buffer. Each
# document must be stored exactly, each message completed and none dead-lettered.
# @azure/service-bus seeds the messages and @azure/cosmos reads the documents back.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup

queue=orders
expected="$test_dir/expected.json"

all_completed() {
    [[ "$(queue_count "$queue" ActiveMessageCount)" == 0 ]] &&
        (($(metric consumer_messages_completed_total) == 3))
}

node "$here/large_bodies.js" seed "$queue" "$expected" || fail "seeding $queue failed"
start_consumer "$queue" "$test_dir/consumer.log" --cosmos-ca-file "$COSMOS_CA_FILE"
wait_until 120 all_completed || fail "the consumer did not complete the 3 messages of $queue"
dead_lettered="$(metric consumer_messages_dead_lettered_total)"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS"
[[ "$dead_lettered" == 0 ]] || fail "the consumer dead-lettered $dead_lettered messages"
node "$here/large_bodies.js" check "$queue" "$expected" || fail "the documents are wrong"
echo "large_bodies: ok"
