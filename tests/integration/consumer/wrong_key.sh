#!/usr/bin/env bash
# With a wrong Cosmos key the consumer completes and dead-letters nothing, keeps every message
# in the queue, and /readyz names Cosmos and the rejected credentials.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup

seed orders 50 "$test_dir/expected.json"
wrong_key="$(/usr/bin/python3 -c 'import base64, os; print(base64.b64encode(os.urandom(64)).decode())')"
COSMOS_KEY="$wrong_key" start_consumer orders "$test_dir/consumer.log"

rejected() { http_get "http://127.0.0.1:$CONSUMER_HEALTH_PORT/readyz" | grep -q '"component":"cosmos"'; }
wait_until 30 rejected || fail "/readyz never named Cosmos"
sleep 2 # give a wrong consumer time to do damage
readyz="$(http_get "http://127.0.0.1:$CONSUMER_HEALTH_PORT/readyz")"
echo "readyz: $readyz"
grep -q '"status":"not-ready"' <<<"$readyz" || fail "/readyz does not say not-ready"
grep -q 'HTTP 401' <<<"$readyz" || fail "/readyz does not name the 401"
[[ "$(metric consumer_messages_completed_total)" == 0 ]] || fail "messages were completed"
[[ "$(metric consumer_messages_dead_lettered_total)" == 0 ]] || fail "messages were dead-lettered"
[[ "$(queue_count orders DeadLetterMessageCount)" == 0 ]] || fail "the dead-letter subqueue is not empty"
[[ "$(queue_count orders ActiveMessageCount)" == 56 ]] || fail "messages left the queue"

stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
echo "wrong_key: ok"
