#!/usr/bin/env bash
# The AMQP connection is cut twice while writes are in progress (through a proxy): the consumer
# reconnects, settles late writes through $management or leaves them to redelivery, and the
# end state is still one document per message with nothing lost.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Throttling keeps writes in progress across the cuts.
consumer_test_setup --fault-429-rate 0.5 --retry-after-ms 50

proxy_start

seed orders 3000 "$test_dir/expected.json"
EMULATOR_CONNECTION_STRING="$THROUGH_PROXY" \
    start_consumer orders "$test_dir/consumer.log" --concurrency 8

# cut_total: connections the proxy has cut so far, from its last "cut, N connections so far".
cut_total() { sed -n 's/^cut, \([0-9]*\) connections so far$/\1/p' "$test_dir/proxy.log" | tail -n 1; }
cuts=0
cut_before=0
for target in 300 1500; do
    reached() { [[ "$(metric consumer_messages_completed_total)" -ge "$target" ]]; }
    wait_until 120 reached || fail "the consumer did not complete $target messages"
    kill -USR1 "$PROXY_PID"
    cuts=$((cuts + 1))
    cut_logged() { (($(grep -c '^cut, ' "$test_dir/proxy.log") >= cuts)); }
    wait_until 10 cut_logged || fail "the proxy did not report cut $cuts"
    cut_after="$(cut_total)"
    ((cut_after > cut_before)) || fail "cut $cuts closed no connection (total $cut_after)"
    cut_before="$cut_after"
    reconnected() { [[ "$(metric consumer_reconnects_total)" -ge "$1" ]]; }
    wait_until 60 reconnected "$cuts" || fail "the consumer did not reconnect after cut $cuts"
done

wait_until 240 queue_drained orders 6 || fail "the queue was not drained after the reconnects"
late="$(metric consumer_late_settlements_total)"
echo "reconnects: $(metric consumer_reconnects_total), late settlements: $late," \
    "locks lost: $(metric consumer_locks_lost_total)"
# Writes were in progress at each cut, and they finish after their link is gone.
((late >= 1)) || fail "no write was settled through \$management after a cut"
# A cut connection sends no AMQP close, and the log reports that, not a framing fault.
log="$test_dir/consumer.log"
grep -q '"event":"amqp-disconnected".*the socket closed without an AMQP close' "$log" ||
    fail "no disconnect line says the socket closed: $(grep -m 1 amqp-disconnected "$log")"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
check_end_state orders "$test_dir/expected.json"
echo "reconnect: ok"
