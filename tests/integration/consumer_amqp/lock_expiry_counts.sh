#!/usr/bin/env bash
# A delivery whose lock expires while its write is retried ends as a lost lock and is counted
# only there, not as completed, even though its document is stored. Locks are not renewed
# (--management false) on a queue with a 2 s lock, and Cosmos DB returns 503 to the first 16
# writes, so the first two messages retry for longer than their lock. The emulator rejects
# their completion as lock-lost and redelivers them. When the queue is empty, received =
# completed + abandoned + dead-lettered + locks lost, and completed equals the good messages.
source "$(dirname "${BASH_SOURCE[0]}")/../consumer/lib.sh"
consumer_test_setup --fault-503-first 16

good=10
seed short-lock "$good" "$test_dir/expected.json"
start_consumer short-lock "$test_dir/consumer.log" --concurrency 2 --prefetch 0 \
    --management false --message-deadline 120s
wait_until 180 queue_drained short-lock 6 || fail "the queue was not drained"
idle() { [[ "$(metric consumer_messages_in_flight)" == 0 ]]; }
wait_until 60 idle || fail "deliveries were still in flight after the queue was drained"

counters_add_up
((LOCKS_LOST >= 1)) || fail "no lock expired during the slow writes"
grep -q '"event":"settle-rejected"' "$test_dir/consumer.log" ||
    fail "the emulator did not reject a completion after its lock expired"
((COMPLETED == good)) || fail "completed $COMPLETED, expected one completion per good message ($good)"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
check_end_state short-lock "$test_dir/expected.json"
echo "lock_expiry_counts: ok"
