#!/usr/bin/env bash
# A link from the broker to the consumer that is slow but works. A proxy forwards the emulator's
# bytes at 200 KB/s, and 40 messages of 200 KB fill it: with credit 16 (concurrency 8 and
# prefetch 8), about 3 MB of transfers wait ahead of each settlement, 16 s at that rate. The
# consumer must not take the late settlements for a peer that takes no data while transfer
# bytes keep arriving: no reconnect, and the end state of any run. A second run does the same
# on a link so slow that one message takes longer than the stall bound.
source "$(dirname "${BASH_SOURCE[0]}")/../consumer/lib.sh"
consumer_test_setup
proxy_start --server-rate 200000

good=40
seed orders "$good" "$test_dir/expected.json" 200000
EMULATOR_CONNECTION_STRING="$THROUGH_PROXY" \
    start_consumer orders "$test_dir/consumer.log" --concurrency 8 --prefetch 8

wait_until 180 queue_drained orders 6 || fail "the queue was not drained through the slow link"
idle() { [[ "$(metric consumer_messages_in_flight)" == 0 ]]; }
wait_until 60 idle || fail "deliveries were still in flight after the queue was drained"
reconnects="$(metric consumer_reconnects_total)"
echo "completed $(metric consumer_messages_completed_total), reconnects $reconnects"
if grep -q "the peer takes no data" "$test_dir/consumer.log"; then
    fail "the consumer dropped a working slow link: $(grep -m 1 'the peer takes no data' "$test_dir/consumer.log")"
fi
((reconnects == 0)) || fail "the consumer reconnected $reconnects times on a working link"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
check_end_state orders "$test_dir/expected.json"

# Slower still, with one message at a time: a 200 KB message takes 13 s at 15 KB/s, longer than
# the stall bound. The consumer advertises a max-frame-size of 64 KiB, so the message comes in
# frames of 4.4 s each, and each frame shows that bytes still arrive.
proxy_start --server-rate 15000
seed orders 2 "$test_dir/expected-slower.json" 200000
EMULATOR_CONNECTION_STRING="$THROUGH_PROXY" \
    start_consumer orders "$test_dir/consumer-slower.log" --concurrency 1 --prefetch 0
wait_until 180 queue_drained orders 12 || fail "the queue was not drained through the slower link"
wait_until 60 idle || fail "deliveries were still in flight after the slower link drained"
if grep -q "the peer takes no data" "$test_dir/consumer-slower.log"; then
    fail "the consumer dropped the slower link: $(grep -m 1 'the peer takes no data' "$test_dir/consumer-slower.log")"
fi
[[ "$(metric consumer_reconnects_total)" == 0 ]] || fail "the consumer reconnected on the slower link"
[[ "$(metric consumer_messages_completed_total)" == 2 ]] ||
    fail "completed $(metric consumer_messages_completed_total) of the 2 messages on the slower link"
stop_consumer TERM
echo "slow_link: ok"
