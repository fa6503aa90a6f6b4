#!/usr/bin/env bash
# A broker that stops reading the consumer's socket while new messages keep reaching the queue.
# The broker still sends them, within the credit it had, so transfer bytes keep arriving and do
# not show the stall. The locks do: with a 5 s lock, a completion that waited 10 s with no
# settlement has outlived its message's lock. The consumer must then drop the connection,
# reconnect and drain the queue, and its counters must add up.
source "$(dirname "${BASH_SOURCE[0]}")/../consumer/lib.sh"

test_dir="$(mktemp -d)"
trap cleanup EXIT
write_queue_config "$test_dir/Config.json" PT5S 10 orders
export EMULATOR_CONFIG="$test_dir/Config.json"
consumer_test_setup
proxy_start

seed orders 5 "$test_dir/expected.json"
EMULATOR_CONNECTION_STRING="$THROUGH_PROXY" start_consumer orders "$test_dir/consumer.log"
wait_until 60 queue_drained orders 6 || fail "the seeded messages were not drained"

# From the consumer's next bytes on, the proxy forwards nothing to the emulator.
kill -USR2 "$PROXY_PID"
reconnected() { [[ "$(metric consumer_reconnects_total)" -ge 1 ]]; }
sent=0
for ((i = 0; i < 30; i++)); do
    node "$here/delivery_counts.js" send orders 1 >/dev/null || fail "sending a message failed"
    sent=$((sent + 1))
    reconnected && break
    sleep 1.5
done
reconnected || fail "the consumer did not drop the stalled connection while $sent messages trickled in"
grep -q '"event":"amqp-disconnected".*past its message.s lock: the peer takes no data' \
    "$test_dir/consumer.log" || fail "the drop does not name the expired lock"
grep -q "stalled on SIGUSR2" "$test_dir/proxy.log" || fail "the proxy never stalled"

wait_until 120 queue_drained orders 6 || fail "the queue was not drained after the reconnect"
idle() { [[ "$(metric consumer_messages_in_flight)" == 0 ]]; }
wait_until 60 idle || fail "deliveries were still in flight after the queue was drained"
echo "sent $sent during the stall"
counters_add_up
((COMPLETED >= 5 + sent)) || fail "completed $COMPLETED, fewer than the $((5 + sent)) messages sent"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
echo "stalled_trickle: ok"
