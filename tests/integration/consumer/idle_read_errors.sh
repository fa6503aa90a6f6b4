#!/usr/bin/env bash
# An idle container read that fails while Cosmos DB is reachable does not make the consumer not
# ready. A 503 to the read keeps it ready, as a retried write does. A read that hangs until its
# timeout while writes get 201 changes nothing either, because those responses show that Cosmos
# DB is reachable. The Cosmos stand-in responds to every upsert with 201 in both modes.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

test_dir="$(mktemp -d)"
trap cleanup EXIT
emulator_start "$test_dir/emulator" || fail "the Service Bus emulator did not start"
reads() { grep -c "^$1 read\$" "$test_dir/sink.requests" || true; }
expect_stayed_ready() {
    if grep -q '"event":"cosmos-not-ready"' "$test_dir/consumer.log"; then
        fail "$1 made the consumer not ready: $(grep -m 1 '"event":"cosmos-not-ready"' "$test_dir/consumer.log")"
    fi
}

# Every idle read gets 503.
stalled_cosmos_start --mode unavailable-reads
start_consumer orders "$test_dir/consumer.log" "${STAND_IN_OPTIONS[@]}" --log-level debug \
    --cosmos-idle-check 2s
wait_until 30 consumer_ready || fail "the consumer never became ready"
two_refused() { (($(reads 503) >= 2)); }
wait_until 40 two_refused || fail "$(reads 503) idle reads in 40 s, expected 2"
expect_stayed_ready "a 503 to an idle read"
consumer_ready || fail "the consumer is not ready after two refused idle reads"
grep -q '"event":"cosmos-idle-read-failed".*HTTP 503' "$test_dir/consumer.log" ||
    fail "the refused idle reads were not logged"
failures="$(metric consumer_cosmos_idle_read_failures_total)"
((failures >= 2)) || fail "consumer_cosmos_idle_read_failures_total is $failures after two refused reads"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
kill "$STALLED_COSMOS_PID" && wait "$STALLED_COSMOS_PID" 2>/dev/null || true
STALLED_COSMOS_PID=""

# The idle read hangs, and messages arrive while it waits for its 3 s timeout. This phase keeps
# the default interval of 10 s, so that no second read hangs after the writes and before the
# checks below.
stalled_cosmos_start --mode hang-reads
start_consumer orders "$test_dir/consumer.log" "${STAND_IN_OPTIONS[@]}" --log-level debug \
    --cosmos-timeout 3s
wait_until 30 consumer_ready || fail "the consumer never became ready"
hanging() { (($(reads hang) >= 1)); }
wait_until 20 hanging || fail "no idle read went out in 20 s"
node "$here/delivery_counts.js" send orders 20 || fail "sending 20 messages failed"
all_completed() { [[ "$(metric consumer_messages_completed_total 2>/dev/null)" == 20 ]]; }
wait_until 30 all_completed || fail "the consumer did not complete the 20 messages"
timed_out() { grep -q '"event":"cosmos-idle-read-failed".*responded to other requests' "$test_dir/consumer.log"; }
wait_until 20 timed_out || fail "the hanging idle read did not end in a logged failure"
expect_stayed_ready "a hanging idle read while writes succeed"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
echo "idle_read_errors: ok"
