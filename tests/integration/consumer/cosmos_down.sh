#!/usr/bin/env bash
# When Cosmos DB goes down after start, the consumer reports not ready and stops taking
# messages, so good messages keep their place in the queue instead of running through their
# delivery count into the dead-letter subqueue.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup

start_consumer orders "$test_dir/consumer.log" --message-deadline 3s
ready() { http_get "http://127.0.0.1:$CONSUMER_HEALTH_PORT/readyz" | grep -q '"status":"ready"'; }
wait_until 30 ready || fail "the consumer never became ready"

cosmos_stop
seed orders 20 "$test_dir/expected.json"

unreachable() { http_get "http://127.0.0.1:$CONSUMER_HEALTH_PORT/readyz" | grep -q 'unreachable'; }
wait_until 30 unreachable || fail "/readyz never said Cosmos DB is unreachable"
# Five message deadlines: long enough for redeliveries to reach MaxDeliveryCount (3) if the
# consumer kept taking messages.
sleep 15
readyz="$(http_get "http://127.0.0.1:$CONSUMER_HEALTH_PORT/readyz")"
echo "readyz: $readyz"
grep -q '"component":"cosmos"' <<<"$readyz" || fail "/readyz does not name Cosmos DB"

# seed.js adds 6 poison messages, which may be dead-lettered if they arrived before the
# outage was noticed; none of the 20 good ones may be.
dead="$(queue_count orders DeadLetterMessageCount)"
active="$(queue_count orders ActiveMessageCount)"
echo "dead-lettered $dead, active $active"
((dead <= 6)) || fail "$dead messages were dead-lettered while Cosmos DB was down"
((active + dead == 26)) || fail "messages left the queue: active $active, dead-lettered $dead"
[[ "$(metric consumer_messages_completed_total)" == 0 ]] || fail "messages were completed"

stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
echo "cosmos_down: ok"
