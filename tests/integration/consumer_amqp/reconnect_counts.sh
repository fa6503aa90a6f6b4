#!/usr/bin/env bash
# The consumer's counters stay exact across reconnects. The AMQP connection is cut three times
# through a proxy while completions are on the wire, so some deliveries are settled on a link
# that is then lost and are settled again through $management. Each delivery must be counted
# once: when the queue is empty, received = completed + abandoned + dead-lettered + locks lost,
# and completed equals the good messages, each of which has exactly one document.
source "$(dirname "${BASH_SOURCE[0]}")/../consumer/lib.sh"
# Throttling keeps writes in progress across the cuts.
consumer_test_setup --fault-429-rate 0.3 --retry-after-ms 20

proxy_start

good=3000
seed orders "$good" "$test_dir/expected.json"
EMULATOR_CONNECTION_STRING="$THROUGH_PROXY" \
    start_consumer orders "$test_dir/consumer.log" --concurrency 16

cuts=0
for target in 400 1200 2000; do
    reached() { [[ "$(metric consumer_messages_completed_total)" -ge "$target" ]]; }
    wait_until 120 reached || fail "the consumer did not complete $target messages"
    kill -USR1 "$PROXY_PID"
    cuts=$((cuts + 1))
    reconnected() { [[ "$(metric consumer_reconnects_total)" -ge "$cuts" ]]; }
    wait_until 60 reconnected || fail "the consumer did not reconnect after cut $cuts"
done

wait_until 240 queue_drained orders 6 || fail "the queue was not drained after the reconnects"
idle() { [[ "$(metric consumer_messages_in_flight)" == 0 ]]; }
wait_until 60 idle || fail "deliveries were still in flight after the queue was drained"

counters_add_up
late="$(metric consumer_late_settlements_total)"
echo "late settlements $late, reconnects $(metric consumer_reconnects_total)"
((late >= 1)) || fail "no delivery was settled through \$management after a cut"
((COMPLETED == good)) || fail "completed $COMPLETED, expected one completion per good message ($good)"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
grep -q "cut, " "$test_dir/proxy.log" || fail "the proxy cut nothing"
check_end_state orders "$test_dir/expected.json"
echo "reconnect_counts: ok"
