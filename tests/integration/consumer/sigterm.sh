#!/usr/bin/env bash
# SIGTERM in the middle of a backlog: the consumer settles its messages in flight and exits 0.
# The queue's lock lasts 5 minutes (the maximum), so a message the consumer left unsettled would stay
# locked through every check below. Right after the exit, no message may be locked, every
# good message must be in the queue or have its document, and the messages whose delivery
# count rose must be the ones the consumer logged as abandoned. A second run then reaches the
# end state, completing each remaining message once and leaving the first run's documents.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_dir="$(mktemp -d)"
trap cleanup EXIT
# MaxDeliveryCount leaves room for the abandon of check_stopped_state --unlocked.
write_queue_config "$test_dir/Config.json" PT5M 10 long-lock
export EMULATOR_CONFIG="$test_dir/Config.json"
consumer_test_setup

seed long-lock 2000 "$test_dir/expected.json"
first_log="$test_dir/consumer-1.log"
# Few concurrent writes keep the first run busy long enough to stop it part way.
start_consumer long-lock "$first_log" --concurrency 2 --prefetch 4 --shutdown-grace 5s
mid_run() { [[ "$(metric consumer_messages_completed_total)" -ge 400 ]]; }
wait_until 120 mid_run || fail "the first run did not complete 400 messages"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"

# What the consumer logged: how many messages it had in flight at SIGTERM, and whether the
# grace period ran out. Then it abandons the rest, which check_stopped_state compares with
# the queue.
shutdown_line="$(grep '"event":"shutdown"' "$first_log")" || fail "no shutdown line in the log"
in_flight="$(sed -n 's/.*draining: \([0-9]*\) messages in flight.*/\1/p' <<<"$shutdown_line")"
abandoned="$(grep -c '"event":"message-abandoned"' "$first_log" || true)"
echo "first run: $in_flight messages in flight at SIGTERM, $abandoned abandoned"
[[ -n "$in_flight" ]] || fail "the shutdown line does not say how many messages were in flight"
# A consumer with prefetch always has messages locked while a backlog waits, so this run
# tests the drain of messages in flight.
((in_flight > 0)) || fail "no message was in flight at SIGTERM"
grep -q '"event":"stopped"' "$first_log" || fail "the consumer did not log that it stopped"

check_stopped_state long-lock "$test_dir/expected.json" "$test_dir/stop-state.json" \
    --unlocked --consumer-log "$first_log"
queued="$(node -p "require('$test_dir/stop-state.json').summary.queued")"
((queued > 0)) || fail "the first run drained the whole queue before SIGTERM"

start_consumer long-lock "$test_dir/consumer-2.log"
wait_until 240 queue_drained long-lock 6 || fail "the second run did not drain the queue"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the second run exited with $CONSUMER_STATUS"
check_end_state long-lock "$test_dir/expected.json" --stop-state "$test_dir/stop-state.json"
echo "sigterm: ok"
