#!/usr/bin/env bash
# SIGKILL in the middle of a backlog on a queue with a 2 s lock. Once the killed run's locks
# have expired, every good message is in the queue or has its document, and the messages
# the killed run held are back with their delivery count raised. A second run then reaches
# the end state: it completes each remaining message once, writes the held ones again with
# the higher deliveryCount, and leaves the documents of completed messages alone.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup

seed short-lock 3000 "$test_dir/expected.json"
start_consumer short-lock "$test_dir/consumer-1.log" --concurrency 2 --prefetch 4
mid_run() { [[ "$(metric consumer_messages_completed_total)" -ge 300 ]]; }
wait_until 120 mid_run || fail "the first run did not complete 300 messages"
stop_consumer KILL
[[ "$CONSUMER_STATUS" == 137 ]] || fail "the consumer exited with $CONSUMER_STATUS, not by SIGKILL"
# The queue's LockDuration is PT2S, a renewal just before the kill extends a lock by at most
# that, and the emulator expires locks every 100 ms. The state below counts on every lock
# of the killed run having expired.
sleep 5

check_stopped_state short-lock "$test_dir/expected.json" "$test_dir/stop-state.json"
summary() { node -p "require('$test_dir/stop-state.json').summary.$1"; }
echo "after the kill: $(summary queued) in the queue, $(summary redelivered) held by the killed run"
(($(summary queued) > 0)) || fail "the first run drained the whole queue before SIGKILL"
# A consumer with prefetch always has messages locked while a backlog waits.
(($(summary redelivered) > 0)) || fail "no message held by the killed run came back"

start_consumer short-lock "$test_dir/consumer-2.log"
wait_until 240 queue_drained short-lock 6 || fail "the second run did not drain the queue"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the second run exited with $CONSUMER_STATUS"
check_end_state short-lock "$test_dir/expected.json" --stop-state "$test_dir/stop-state.json"
echo "sigkill: ok"
