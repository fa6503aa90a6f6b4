#!/usr/bin/env bash
# A Cosmos server that resets a kept-alive connection while a request is on it (as servers
# that close idle connections sometimes do) costs that message a retry, not the consumer's
# readiness. The stand-in responds to the first upsert on each connection and resets the second
# after the start of its response. Every message still gets exactly one 201 before it is
# completed, and the consumer never reports Cosmos DB unreachable, stops its intake or loses a
# message.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

queue="reset-reused"
total=30
test_dir="$(mktemp -d)"
trap cleanup EXIT

write_queue_config "$test_dir/Config.json" PT5M 10 "$queue"
export EMULATOR_CONFIG="$test_dir/Config.json"
emulator_start "$test_dir/emulator" || fail "the Service Bus emulator did not start"
stalled_cosmos_start --mode reset-reused

node "$here/delivery_counts.js" send "$queue" "$total" || fail "sending $total messages failed"

start_consumer "$queue" "$test_dir/consumer.log" \
    "${STAND_IN_OPTIONS[@]}" \
    --concurrency 2 --prefetch 2 --cosmos-timeout 30s --message-deadline 5m

all_completed() { [[ "$(metric consumer_messages_completed_total 2>/dev/null)" == "$total" ]]; }
wait_until 120 all_completed || fail "the consumer did not complete all $total messages"
stop_consumer TERM 60
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"

resets="$(grep -c '^reset ' "$test_dir/sink.requests" || true)"
((resets >= 5)) || fail "the stand-in reset only $resets requests; the case was not exercised"
stored="$(awk '$1 == "201" { print $2 }' "$test_dir/sink.requests" | sort -u | wc -l)"
[[ "$stored" == "$total" ]] || fail "$stored of $total messages got a 201"
twice="$(awk '$1 == "201" { print $2 }' "$test_dir/sink.requests" | sort | uniq -d)"
[[ -z "$twice" ]] || fail "messages got a 201 more than once: $twice"
[[ "$(queue_count "$queue" ActiveMessageCount)" == 0 ]] || fail "messages are left in $queue"

unready="$(grep -c '"event":"cosmos-not-ready"' "$test_dir/consumer.log" || true)"
[[ "$unready" == 0 ]] ||
    fail "the consumer reported Cosmos DB not ready $unready times: $(grep -m 1 '"event":"cosmos-not-ready"' "$test_dir/consumer.log")"
echo "reset_reused: ok ($resets resets, $total messages stored once each)"
