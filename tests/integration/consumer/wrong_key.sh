#!/usr/bin/env bash
# With a wrong Cosmos key the consumer takes no message. It attaches its receiver with no
# credit and /readyz names Cosmos and the 401. After a stop every message is still in the
# queue, unlocked and never delivered, and nothing was completed or dead-lettered.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup
# The container exists, so only the key is wrong, and check.js can read it afterwards.
node "$root/tests/lib/cosmos_count.js" init || fail "creating the container failed"

seed orders 50 "$test_dir/expected.json"
wrong_key="$(/usr/bin/python3 -c 'import base64, os; print(base64.b64encode(os.urandom(64)).decode())')"
COSMOS_KEY="$wrong_key" start_consumer orders "$test_dir/consumer.log"

# rejected_total: how many requests the Cosmos test server has rejected with 401.
rejected_total() {
    cosmos_stat rejected 401
}
attached() { grep -q '"event":"receiver-attached".*credit 0: credit is withheld' "$test_dir/consumer.log"; }
wait_until 30 attached || fail "the consumer did not attach its receiver with credit withheld"
# The consumer retries its Cosmos check with backoff up to 15 s. A check rejected after the
# attach shows that the consumer had its receiver while it knew the key was wrong, so a
# consumer that granted credit then would hold messages by now.
rejected_at_attach="$(rejected_total)"
rejected_again() { (($(rejected_total) > rejected_at_attach)); }
wait_until 60 rejected_again || fail "Cosmos rejected no request of the consumer after the attach"

readyz="$(http_get "http://127.0.0.1:$CONSUMER_HEALTH_PORT/readyz")"
echo "readyz: $readyz"
grep -q '"status":"not-ready"' <<<"$readyz" || fail "/readyz does not say not-ready"
grep -q '"component":"cosmos"' <<<"$readyz" || fail "/readyz does not name Cosmos"
grep -q 'HTTP 401' <<<"$readyz" || fail "/readyz does not name the 401"
# The server's whole explanation reaches /readyz, up to the string to sign that it expected.
grep -q 'the string to sign differs from the one the server used: ' <<<"$readyz" ||
    fail "/readyz cuts the server's explanation of the 401 short: $readyz"
grep -q '"event":"cosmos-not-ready".*HTTP 401' "$test_dir/consumer.log" ||
    fail "the consumer did not log the rejected credentials"
for counter in received completed abandoned dead_lettered; do
    value="$(metric "consumer_messages_${counter}_total")"
    [[ "$value" == 0 ]] || fail "consumer_messages_${counter}_total is $value, expected 0"
done
[[ "$(metric consumer_messages_in_flight)" == 0 ]] || fail "the consumer holds messages"
[[ "$(queue_count orders DeadLetterMessageCount)" == 0 ]] || fail "the dead-letter subqueue is not empty"
[[ "$(queue_count orders ActiveMessageCount)" == 56 ]] || fail "messages left the queue"
documents="$(node "$root/tests/lib/cosmos_count.js" count)" || fail "reading documents failed"
[[ "$documents" == 0 ]] || fail "Cosmos holds $documents documents, expected none"

stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
# Every message must be unlocked, with a delivery count equal to its logged abandons (0).
# The summary must show all 56 messages still queued and none delivered before.
check_stopped_state orders "$test_dir/expected.json" "$test_dir/stop-state.json" \
    --unlocked --consumer-log "$test_dir/consumer.log"
summary() { node -p "require('$test_dir/stop-state.json').summary.$1"; }
[[ "$(summary queued)" == 56 ]] || fail "$(summary queued) messages are in the queue, expected 56"
[[ "$(summary redelivered)" == 0 ]] || fail "$(summary redelivered) messages were delivered before"
echo "wrong_key: ok"
