#!/usr/bin/env bash
# SIGTERM in the middle of a backlog: the consumer settles what it has in flight and exits 0
# within its grace period; a second run then reaches the end state with no duplicate and no
# loss.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup

grace_s=5
seed orders 5000 "$test_dir/expected.json"
# Few concurrent writes keep the first run busy long enough to stop it halfway.
start_consumer orders "$test_dir/consumer-1.log" --concurrency 2 --prefetch 4 \
    --shutdown-grace "$grace_s"
mid_run() { [[ "$(metric consumer_messages_completed_total)" -ge 500 ]]; }
wait_until 120 mid_run || fail "the first run did not complete 500 messages"
stop_consumer TERM
echo "first run exited with $CONSUMER_STATUS after $CONSUMER_STOP_SECONDS s"
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
# The bound is the grace period plus a margin for a loaded machine; a consumer that ignored
# SIGTERM would only stop at the test's own timeout.
((CONSUMER_STOP_SECONDS <= grace_s + 10)) || fail "the consumer took $CONSUMER_STOP_SECONDS s to exit"
grep -q '"event":"shutdown"' "$test_dir/consumer-1.log" || fail "no shutdown line in the log"
active="$(queue_count orders ActiveMessageCount)"
((active > 0 && active < 5006)) || fail "after the first run $active messages are active"

start_consumer orders "$test_dir/consumer-2.log"
wait_until 240 queue_drained orders 6 || fail "the second run did not drain the queue"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the second run exited with $CONSUMER_STATUS"
check_end_state orders "$test_dir/expected.json"
echo "sigterm: ok"
