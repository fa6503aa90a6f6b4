#!/usr/bin/env bash
# A broker that stops reading the consumer's socket while its own frames still arrive. A proxy
# stops forwarding the consumer's bytes once the receiver is attached and messages flow, so
# Service Bus settles none of the consumer's completions. The consumer must drop that connection,
# reconnect, and settle through $management the completions that were never read. The end state
# is that of any run: one document per message, an empty queue.
source "$(dirname "${BASH_SOURCE[0]}")/../consumer/lib.sh"
consumer_test_setup

# The first 20,000 bytes carry the set-up (SASL, the CBS token, the attaches) and then flow
# frames and dispositions, so the stall comes after some hundreds of completions.
proxy_start --stall-after 20000

good=2000
seed orders "$good" "$test_dir/expected.json"
EMULATOR_CONNECTION_STRING="$THROUGH_PROXY" \
    start_consumer orders "$test_dir/consumer.log" --concurrency 16

stalled() { grep -q "stalled after" "$test_dir/proxy.log"; }
wait_until 60 stalled || fail "the proxy never stalled the consumer's connection"
completed_before="$(metric consumer_messages_completed_total)"

reconnected() { [[ "$(metric consumer_reconnects_total)" -ge 1 ]]; }
wait_until 60 reconnected || fail "the consumer did not drop the stalled connection"
grep -q "the peer takes no data" "$test_dir/consumer.log" ||
    fail "the consumer reconnected without saying that the peer took no data"

wait_until 120 queue_drained orders 6 || fail "the queue was not drained after the reconnect"
idle() { [[ "$(metric consumer_messages_in_flight)" == 0 ]]; }
wait_until 60 idle || fail "deliveries were still in flight after the queue was drained"

late="$(metric consumer_late_settlements_total)"
completed="$(metric consumer_messages_completed_total)"
echo "completed before the drop $completed_before, in all $completed, late settlements $late," \
    "reconnects $(metric consumer_reconnects_total)"
((completed_before > 0)) || fail "no message was completed before the stall"
((late >= 1)) || fail "no completion left unsettled was settled through \$management"
((completed == good)) || fail "completed $completed, expected one completion per message ($good)"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
check_end_state orders "$test_dir/expected.json"
echo "stalled_connection: ok"
