#!/usr/bin/env bash
# When the shutdown grace period ends, the consumer abandons (modified) only the deliveries
# whose Cosmos write started, and releases the prefetched ones whose write never started.
# The Cosmos stand-in never responds to a document write, and --concurrency 1 lets the writer start
# one write, so of the 6 deliveries exactly one write starts. The emulator runs with
# --release-keeps-delivery-count, as Service Bus counts no delivery for a released message.
# After the exit, the message whose write started has delivery count 1 and the other 5 still
# have 0. Abandoning all 6 would give each of them delivery count 1.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

queue="grace-release"
total=6
test_dir="$(mktemp -d)"
trap cleanup EXIT

# The 5-minute lock outlasts the test, so no delivery count rises through a lock expiry.
write_queue_config "$test_dir/Config.json" PT5M 10 "$queue"
export EMULATOR_CONFIG="$test_dir/Config.json"
emulator_start "$test_dir/emulator" --release-keeps-delivery-count ||
    fail "the Service Bus emulator did not start"

stalled_cosmos_start

node "$here/delivery_counts.js" send "$queue" "$total" || fail "sending $total messages failed"

# Credit is concurrency plus prefetch, 6, so all 6 messages are delivered at once. The request
# timeout and the message deadline outlast the test, so the started write stays in progress.
start_consumer "$queue" "$test_dir/consumer.log" \
    "${STAND_IN_OPTIONS[@]}" \
    --concurrency 1 --prefetch 5 --cosmos-timeout 300s --message-deadline 10m \
    --shutdown-grace 1s

all_received() { [[ "$(metric consumer_messages_received_total 2>/dev/null)" == "$total" ]]; }
wait_until 60 all_received || fail "the consumer did not receive all $total messages"
write_started() { [[ "$(wc -l <"$test_dir/sink.requests")" -ge 1 ]]; }
wait_until 60 write_started || fail "the consumer started no Cosmos write"

stop_consumer TERM 60
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"

# One write started, and only one, because the writer starts no second write while the first
# is in progress.
mapfile -t started <"$test_dir/sink.requests"
[[ "${#started[@]}" == 1 ]] || fail "the Cosmos stand-in received ${#started[@]} writes, expected 1: ${started[*]}"
started_id="${started[0]}"

peeked="$(node "$here/delivery_counts.js" peek "$queue")" || fail "peeking $queue failed"
echo "delivery counts after the stop (started write: $started_id):"
echo "$peeked"
[[ "$(wc -l <<<"$peeked")" == "$total" ]] || fail "the queue holds $(wc -l <<<"$peeked") messages, expected $total"
while read -r id count; do
    if [[ "$id" == "$started_id" ]]; then
        [[ "$count" == 1 ]] || fail "$id, whose write started, has delivery count $count, expected 1"
    else
        [[ "$count" == 0 ]] || fail "$id, whose write never started, has delivery count $count, expected 0"
    fi
done <<<"$peeked"
grep -q "^$started_id " <<<"$peeked" || fail "$started_id, whose write started, is not in the queue"

summary="$(grep '"event":"shutdown-abandon"' "$test_dir/consumer.log")" ||
    fail "the consumer did not log shutdown-abandon at the end of the grace period"
grep -q 'abandoned 1 messages whose writes had started and released 5 whose writes never started' \
    <<<"$summary" || fail "the shutdown-abandon line does not count 1 abandoned and 5 released: $summary"
echo "grace_release: ok"
