#!/usr/bin/env bash
# SIGTERM while the peer never completes the drain: the emulator runs with --ignore-drain, so
# the consumer's credit stays outstanding after the signal. When its drain timeout (2 s) ends,
# the consumer must log shutdown-drain-timeout, detach the receiver, settle its messages
# through $management and exit 0 without reaching its last-resort shutdown-timeout. Right
# after the exit, every good message has its document or is back in the queue, unlocked, and
# none is in both places. Each message in the queue was abandoned once: an abandon on a link
# that still has credit would bring the message straight back to the consumer.
#
# The Cosmos test server responds to the first 5 document writes with 429 and a retry-after of
# 10 s, the maximum the consumer waits. Those 5 messages are still waiting for their retry
# when the 1 s grace period ends, so the consumer abandons them and they stay in the queue.
# The credit (1 + 50) exceeds the 36 seeded messages, so the emulator has credit left to
# send against, and only the drain timeout can end the wait.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

queue="drain-timeout"
good=30
poison=6
grace_s=1
test_dir="$(mktemp -d)"
trap cleanup EXIT

# The 5-minute lock outlasts the test, so only the consumer's abandons raise delivery counts.
# MaxDeliveryCount leaves room for the abandon of check_stopped_state --unlocked.
write_queue_config "$test_dir/Config.json" PT5M 10 "$queue"
export EMULATOR_CONFIG="$test_dir/Config.json"
cosmos_start "$test_dir/cosmos" --fault-429-first 5 --retry-after-ms 10000 ||
    fail "the Cosmos test server did not start"
emulator_start "$test_dir/emulator" --ignore-drain || fail "the Service Bus emulator did not start"
export COSMOS_DATABASE="itest" COSMOS_CONTAINER="$queue"

seed "$queue" "$good" "$test_dir/expected.json"
start_consumer "$queue" "$test_dir/consumer.log" --cosmos-ca-file "$COSMOS_CA_FILE" \
    --concurrency 1 --prefetch 50 --shutdown-grace "${grace_s}s"

# Every message but the 5 waiting for their retry is settled: 25 completed, 6 dead-lettered.
all_but_retries_settled() {
    local settled
    settled="$(settled_count)" || return 1
    ((settled >= good + poison - 5))
}
wait_until 120 all_but_retries_settled || fail "the consumer did not settle $((good + poison - 5)) messages"

# The limit is the grace period plus a margin far above the consumer's own bounds after it
# (2 s for settlements and 3 s for the close), so that only a consumer that hangs fails.
limit_s=$((grace_s + 30))
stop_consumer TERM "$limit_s"
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"

log="$test_dir/consumer.log"
grep -q '"event":"drain-ignored"' "$test_dir/emulator/emulator.log" ||
    fail "the emulator did not ignore a drain, so the drain timeout was not tested"
grep -q '"event":"shutdown-drain-timeout"' "$log" ||
    fail "the consumer did not log shutdown-drain-timeout"
grep '"event":"shutdown-drain-timeout"' "$log"
if grep -q '"event":"shutdown-timeout"' "$log"; then
    fail "the consumer reached its last-resort shutdown-timeout instead of closing after the drain timeout"
fi
if grep -q '"event":"shutdown-settle-timeout"' "$log"; then
    fail "the consumer closed with deliveries unsettled: $(grep '"event":"shutdown-settle-timeout"' "$log")"
fi
grep -q '"event":"stopped"' "$log" || fail "the consumer did not log that it stopped"

# None lost: each good message has its document or is back in the queue, unlocked, and
# the abandons in the log match the delivery counts.
check_stopped_state "$queue" "$test_dir/expected.json" "$test_dir/stop-state.json" --unlocked \
    --consumer-log "$log"
documents="$(node "$root/tests/lib/cosmos_count.js" count)" || fail "counting the documents failed"
summary() { node -p "require('$test_dir/stop-state.json').summary.$1"; }
queued="$(summary queued)"
stored_not_completed="$(summary storedNotCompleted)"
dead_lettered="$(queue_count "$queue" DeadLetterMessageCount)"
echo "after the stop: $documents documents, $queued messages in the queue, $dead_lettered dead-lettered"
[[ "$stored_not_completed" == 0 ]] ||
    fail "$stored_not_completed messages are in the queue and also have a document"
[[ "$dead_lettered" == "$poison" ]] || fail "$dead_lettered messages are dead-lettered, expected $poison"
((documents + queued == good)) ||
    fail "$documents documents and $queued queued messages do not add up to the $good good messages"
((queued > 0)) || fail "no message was back in the queue, so the stop settled nothing it held"
abandons="$(grep -c '"event":"message-abandoned"' "$log" || true)"
((abandons == queued)) ||
    fail "the consumer logged $abandons abandons for the $queued messages left in the queue, expected one each"

# A second run completes the rest, and each message ends with exactly one document.
start_consumer "$queue" "$test_dir/consumer-2.log" --cosmos-ca-file "$COSMOS_CA_FILE"
wait_until 120 queue_drained "$queue" "$poison" || fail "the second run did not drain the queue"
stop_consumer TERM "$limit_s"
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the second run exited with $CONSUMER_STATUS"
check_end_state "$queue" "$test_dir/expected.json" --stop-state "$test_dir/stop-state.json"
echo "drain_timeout: ok"
