#!/usr/bin/env bash
# check.js against hand-made states: it accepts a right state and rejects each broken
# invariant with a message that names it. fake_consumer.js makes the states through the
# official SDKs; the metrics files are written here. Without this test, a check that cannot
# fail would go unnoticed, because the consumer tests only show the checks passing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_dir="$(mktemp -d)"
trap cleanup EXIT
write_queue_config "$test_dir/Config.json" PT5M 10 ok locked lost abandoned end
export EMULATOR_CONFIG="$test_dir/Config.json"
consumer_test_setup
node "$root/tests/lib/cosmos_count.js" init || fail "creating the container failed"
failures=0

fake() {
    node "$here/fake_consumer.js" "$@" || fail "fake_consumer.js $* failed"
}

# expect_ok COMMAND...: runs check.js, which must pass.
expect_ok() {
    local output status=0
    output="$(node "$here/check.js" "$@" 2>&1)" || status=$?
    if [[ "$status" != 0 ]]; then
        echo "FAIL: check.js $* exited $status on a right state: $output"
        failures=$((failures + 1))
    fi
}

# expect_rejected PATTERN COMMAND...: runs check.js, which must exit 1 and print PATTERN.
expect_rejected() {
    local pattern="$1"
    shift
    local output status=0
    output="$(node "$here/check.js" "$@" 2>&1)" || status=$?
    if [[ "$status" != 1 ]] || ! grep -q -- "$pattern" <<<"$output"; then
        echo "FAIL: check.js $* exited $status without '$pattern': $output"
        failures=$((failures + 1))
    else
        echo "rejected as expected: $(grep -m 1 -- "$pattern" <<<"$output")"
    fi
}

# write_metrics FILE COMPLETED RECEIVED ABANDONED DEAD_LETTERED [LOCKS_LOST]
write_metrics() {
    cat >"$1" <<METRICS
# TYPE consumer_messages_received_total counter
consumer_messages_received_total $3
consumer_messages_completed_total $2
consumer_messages_abandoned_total $4
consumer_messages_dead_lettered_total $5
consumer_locks_lost_total ${6:-0}
consumer_reconnects_total 0
METRICS
}

# ---- After a stop: locks, loss, abandons ----

seed ok 20 "$test_dir/ok.json"
fake complete ok 5
expect_ok stopped ok "$test_dir/ok.json" "$test_dir/ok-state.json" --unlocked

seed locked 20 "$test_dir/locked.json"
fake lock locked 3
expect_rejected "3 of 26 messages in the queue are still locked" \
    stopped locked "$test_dir/locked.json" "$test_dir/locked-state.json" --unlocked

seed lost 20 "$test_dir/lost.json"
fake complete lost 1 --no-document
expect_rejected "left the queue without a document" \
    stopped lost "$test_dir/lost.json" "$test_dir/lost-state.json"

seed abandoned 20 "$test_dir/abandoned.json"
fake abandon abandoned 2 >"$test_dir/abandoned-ids"
: >"$test_dir/empty.log"
expect_rejected "delivery count 1, but the log shows 0 abandons" \
    stopped abandoned "$test_dir/abandoned.json" "$test_dir/abandoned-state.json" \
    --consumer-log "$test_dir/empty.log"
while read -r id; do
    echo "{\"event\":\"message-abandoned\",\"msg\":\"message $id abandoned for redelivery: x: y\"}"
done <"$test_dir/abandoned-ids" >"$test_dir/abandoned.log"
expect_ok stopped abandoned "$test_dir/abandoned.json" "$test_dir/abandoned-state.json" \
    --consumer-log "$test_dir/abandoned.log"

# ---- The end state: completions and redeliveries ----

export COSMOS_CONTAINER="end"
node "$root/tests/lib/cosmos_count.js" init || fail "creating the container failed"
seed end 10 "$test_dir/end.json"
fake drain end "$test_dir/end.json"
write_metrics "$test_dir/right.txt" 10 16 0 6
expect_ok end end "$test_dir/end.json" --metrics "$test_dir/right.txt"

write_metrics "$test_dir/twice.txt" 11 17 0 6
expect_rejected "completed 11 messages, expected 10" \
    end end "$test_dir/end.json" --metrics "$test_dir/twice.txt"
grep -v consumer_locks_lost_total "$test_dir/right.txt" >"$test_dir/partial.txt"
expect_rejected "has no consumer_locks_lost_total" \
    end end "$test_dir/end.json" --metrics "$test_dir/partial.txt"

# A stop state in which the first good message was completed before the stop.
node "$root/tests/lib/cosmos_count.js" dump >"$test_dir/end-documents.json" ||
    fail "reading documents failed"
first_id="$(node -p "require('$test_dir/end.json').good[0].id")"
node - "$test_dir/end.json" "$test_dir/end-documents.json" "$first_id" \
    >"$test_dir/end-state.json" <<'JS'
const [expectedPath, documentsPath, firstId] = process.argv.slice(2);
const expected = require(expectedPath);
const documents = new Map(require(documentsPath).map((d) => [d.id, d]));
const state = { messages: {}, remainingGood: expected.good.length - 1, remainingPoison: 6 };
for (const good of expected.good) {
  const document = documents.get(good.id);
  state.messages[good.id] =
    good.id === firstId
      ? { inQueue: false, deliveryCount: document.deliveryCount, destStamp: document.destStamp }
      : { inQueue: true, firstDeliveryCount: 1 };
}
process.stdout.write(JSON.stringify(state));
JS
write_metrics "$test_dir/after-stop.txt" 9 15 0 6
expect_ok end end "$test_dir/end.json" --metrics "$test_dir/after-stop.txt" \
    --stop-state "$test_dir/end-state.json"

# A second delivery of the first message: its document is written again, with deliveryCount 2.
fake rewrite "$first_id"
expect_rejected "documents show 1 redeliveries, but the last run abandoned 0" \
    end end "$test_dir/end.json" --metrics "$test_dir/right.txt"
write_metrics "$test_dir/one-abandon.txt" 10 17 1 6
expect_ok end end "$test_dir/end.json" --metrics "$test_dir/one-abandon.txt"
expect_rejected "completed before the stop, but its document was written again" \
    end end "$test_dir/end.json" --metrics "$test_dir/after-stop.txt" \
    --stop-state "$test_dir/end-state.json"

if ((failures > 0)); then
    exit 1
fi
echo "checker: ok"
