#!/usr/bin/env bash
# check.js stopped --unlocked on a queue longer than 2048 messages, the number of unsettled
# deliveries that one rhea session keeps. The check must receive every message once, abandon
# each once, and still report the messages that another receiver keeps locked.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_dir="$(mktemp -d)"
trap cleanup EXIT
write_queue_config "$test_dir/Config.json" PT5M 10 unlocked locked
export EMULATOR_CONFIG="$test_dir/Config.json"
consumer_test_setup
node "$root/tests/lib/cosmos_count.js" init || fail "creating the container failed"

# 3000 good messages and 6 poison ones.
seeded=3006

# run_check QUEUE: runs check.js stopped --unlocked and prints its output. A check that
# hangs fails here, well before CTest's timeout.
run_check() {
    local status=0
    timeout 300 node "$here/check.js" stopped "$1" "$test_dir/$1.json" \
        "$test_dir/$1-state.json" --unlocked >"$test_dir/$1-check.txt" 2>&1 || status=$?
    cat "$test_dir/$1-check.txt"
    return "$status"
}

seed unlocked 3000 "$test_dir/unlocked.json"
run_check unlocked || fail "check.js rejected a queue of $seeded unlocked messages or hung"
grep -q "^ok: $seeded messages in the queue .*, 0 locked$" "$test_dir/unlocked-check.txt" ||
    fail "check.js did not report $seeded messages and none locked"

# Each message was received and abandoned exactly once, so each has delivery count 1.
node "$here/delivery_counts.js" peek unlocked >"$test_dir/counts.txt" ||
    fail "peeking the delivery counts failed"
[[ "$(wc -l <"$test_dir/counts.txt")" == "$seeded" ]] ||
    fail "peek found $(wc -l <"$test_dir/counts.txt") messages, expected $seeded"
not_once="$(awk '$2 != 1' "$test_dir/counts.txt" | wc -l)"
[[ "$not_once" == 0 ]] ||
    fail "$not_once messages do not have delivery count 1 after one check: $(awk '$2 != 1' "$test_dir/counts.txt" | head -n 3)"

# Three messages locked by another receiver: the check must name them, not hang on them.
seed locked 3000 "$test_dir/locked.json"
node "$here/fake_consumer.js" lock locked 3 || fail "locking 3 messages failed"
status=0
run_check locked || status=$?
[[ "$status" == 1 ]] || fail "check.js exited $status on 3 locked messages, expected 1"
grep -q "3 of $seeded messages in the queue are still locked" "$test_dir/locked-check.txt" ||
    fail "check.js did not report the 3 locked messages"
echo "check_long_queue: ok"
