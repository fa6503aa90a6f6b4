#!/usr/bin/env bash
# When Cosmos DB goes down after start, the consumer reports not ready and stops taking
# messages, so good messages keep their place in the queue instead of running through their
# delivery count into the dead-letter subqueue. Once Cosmos DB is back, the same consumer
# drains the queue to the exact end state: one document per good message, and only the
# poison messages dead-lettered, each with its reason.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup

# Credit 4 (two writers, two prefetched) leaves most of the backlog undelivered during the
# outage. The debug log records every failed Cosmos check, which the outage phase counts.
start_consumer orders "$test_dir/consumer.log" --message-deadline 3s --concurrency 2 \
    --prefetch 2 --log-level debug
wait_until 30 consumer_ready || fail "the consumer never became ready"

cosmos_port="${COSMOS_ENDPOINT##*:}"
cosmos_stop
seed orders 20 "$test_dir/expected.json"

unreachable() { http_get "http://127.0.0.1:$CONSUMER_HEALTH_PORT/readyz" | grep -q 'unreachable'; }
wait_until 30 unreachable || fail "/readyz never said Cosmos DB is unreachable"

# The consumer took messages before it saw the outage. Each stays until its 3 s deadline,
# then it is abandoned, because no write can start without Cosmos DB.
outage_settled() {
    local received abandoned dead_lettered in_flight
    received="$(metric consumer_messages_received_total)"
    abandoned="$(metric consumer_messages_abandoned_total)"
    dead_lettered="$(metric consumer_messages_dead_lettered_total)"
    in_flight="$(metric consumer_messages_in_flight)"
    ((received > 0 && in_flight == 0 && received == abandoned + dead_lettered))
}
wait_until 60 outage_settled || fail "the consumer did not abandon the messages it held"
# Those messages are available again now. Two more failed Cosmos checks give a consumer that
# kept taking messages the time to hold them, which the counts below would show.
failed_checks() { grep -c '"event":"cosmos-not-ready"' "$test_dir/consumer.log" || true; }
checks_at_settle="$(failed_checks)"
checked_twice() { (($(failed_checks) >= checks_at_settle + 2)); }
wait_until 60 checked_twice || fail "the consumer stopped checking Cosmos DB"

readyz="$(http_get "http://127.0.0.1:$CONSUMER_HEALTH_PORT/readyz")"
echo "readyz: $readyz"
grep -q '"component":"cosmos"' <<<"$readyz" || fail "/readyz does not name Cosmos DB"
received="$(metric consumer_messages_received_total)"
abandoned="$(metric consumer_messages_abandoned_total)"
echo "during the outage: received $received, abandoned $abandoned"
((received <= 4)) || fail "the consumer received $received messages during the outage, with credit 4"
[[ "$abandoned" == "$received" ]] || fail "received $received messages but abandoned $abandoned"
[[ "$(metric consumer_messages_completed_total)" == 0 ]] || fail "messages were completed"
[[ "$(metric consumer_messages_dead_lettered_total)" == 0 ]] || fail "messages were dead-lettered"
[[ "$(queue_count orders DeadLetterMessageCount)" == 0 ]] || fail "the dead-letter subqueue is not empty"
[[ "$(queue_count orders ActiveMessageCount)" == 26 ]] || fail "messages left the queue"
# Service Bus must agree: exactly the abandoned messages were delivered, each once.
delivered="$(node -e '
const { ServiceBusClient } = require("@azure/service-bus");
(async () => {
  const client = new ServiceBusClient(process.env.EMULATOR_CONNECTION_STRING);
  const receiver = client.createReceiver("orders");
  const counts = [];
  for (let batch; (batch = await receiver.peekMessages(100)).length > 0; ) {
    counts.push(...batch.map((message) => message.deliveryCount || 0));
  }
  await client.close();
  console.log(`${counts.length} ${counts.filter((c) => c === 1).length} ${counts.filter((c) => c > 1).length}`);
})().catch((error) => { console.error(error); process.exit(1); });
')" || fail "peeking the queue failed"
read -r peeked once more <<<"$delivered"
echo "peeked $peeked messages: $once delivered once, $more delivered more often"
[[ "$peeked" == 26 ]] || fail "peeked $peeked messages, expected 26"
[[ "$once" == "$abandoned" ]] || fail "$once messages were delivered once, expected $abandoned"
[[ "$more" == 0 ]] || fail "$more messages were delivered more than once"

# The server comes back empty on its old port, and the consumer creates the container again.
# NOTE: another process may take the freed port during the outage; the restart then fails.
cosmos_start "$test_dir/cosmos" --port "$cosmos_port" || fail "the Cosmos test server did not restart"
wait_until 60 consumer_ready || fail "the consumer did not become ready after Cosmos DB came back"
wait_until 120 queue_drained orders 6 || fail "the queue was not drained after the outage"
[[ "$(metric consumer_locks_lost_total)" == 0 ]] || fail "locks were lost"
[[ "$(metric consumer_reconnects_total)" == 0 ]] || fail "the consumer reconnected"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
# The counts of the whole run are exact: the outage's abandons are the redeliveries that
# the documents show (deliveryCount 2).
check_end_state orders "$test_dir/expected.json"
echo "cosmos_down: ok"
