#!/usr/bin/env bash
# SIGKILL in the middle of a backlog on a queue with a 2 s lock: after the locks expire, a
# second run reaches the same end state with no duplicate and no loss.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup

seed short-lock 3000 "$test_dir/expected.json"
start_consumer short-lock "$test_dir/consumer-1.log" --concurrency 2 --prefetch 4
mid_run() { [[ "$(metric consumer_messages_completed_total)" -ge 300 ]]; }
wait_until 120 mid_run || fail "the first run did not complete 300 messages"
stop_consumer KILL
[[ "$CONSUMER_STATUS" == 137 ]] || fail "the consumer exited with $CONSUMER_STATUS, not by SIGKILL"
sleep 3 # the queue's LockDuration is PT2S: let the locks of the killed run expire

start_consumer short-lock "$test_dir/consumer-2.log"
wait_until 240 queue_drained short-lock 6 || fail "the second run did not drain the queue"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the second run exited with $CONSUMER_STATUS"
check_end_state short-lock "$test_dir/expected.json"
echo "sigkill: ok"
