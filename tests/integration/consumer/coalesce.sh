#!/usr/bin/env bash
# Against a Cosmos server that delays every request by 20 ms, as a distant account would, the
# consumer pauses between passes to handle responses together, and still drains the queue to
# the exact end state. With --coalesce-max 0 it never pauses.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup --response-delay-ms 20

seed orders 300 "$test_dir/expected.json"
start_consumer orders "$test_dir/consumer.log" --concurrency 16
wait_until 120 queue_drained orders 6 || fail "the queue was not drained"
pauses="$(metric consumer_coalesce_pauses_total)"
((pauses > 0)) || fail "the consumer took no coalescing pause with 16 requests of 20 ms in flight"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
check_end_state orders "$test_dir/expected.json"

# The same queue again with coalescing off: the dead-letter count grows by the 6 new poison
# messages, and the counter stays at 0.
seed orders 100 "$test_dir/expected-off.json"
start_consumer orders "$test_dir/consumer-off.log" --concurrency 16 --coalesce-max 0
wait_until 120 queue_drained orders 12 || fail "the queue was not drained with coalescing off"
pauses="$(metric consumer_coalesce_pauses_total)"
[[ "$pauses" == 0 ]] || fail "the consumer paused $pauses times with --coalesce-max 0"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
echo "coalesce: ok"
