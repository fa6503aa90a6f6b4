#!/usr/bin/env bash
# SIGTERM with --management false while the peer never completes the drain (the emulator runs
# with --ignore-drain): when the drain timeout (2 s) detaches the receiver, the messages still
# unfinished can be settled only through $management, which is off. The consumer sends nothing
# for them, so they stay locked until their locks expire. Its shutdown-abandon line must count
# them as left unsettled, not as abandoned or released, with one settle-skipped line each.
#
# As in drain_timeout, the Cosmos test server responds to the first 5 document writes with 429
# and a retry-after of 10 s, so those 5 messages are still waiting for their retry when the 1 s
# grace period ends. The credit (1 + 50) exceeds the 36 seeded messages, so only the drain
# timeout can end the wait for the drain.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

queue="shutdown-skipped"
good=30
poison=6
retried=5
grace_s=1
test_dir="$(mktemp -d)"
trap cleanup EXIT

write_queue_config "$test_dir/Config.json" PT5M 10 "$queue"
export EMULATOR_CONFIG="$test_dir/Config.json"
cosmos_start "$test_dir/cosmos" --fault-429-first "$retried" --retry-after-ms 10000 ||
    fail "the Cosmos test server did not start"
emulator_start "$test_dir/emulator" --ignore-drain || fail "the Service Bus emulator did not start"
export COSMOS_DATABASE="itest" COSMOS_CONTAINER="$queue"

seed "$queue" "$good" "$test_dir/expected.json"
start_consumer "$queue" "$test_dir/consumer.log" --cosmos-ca-file "$COSMOS_CA_FILE" \
    --concurrency 1 --prefetch 50 --shutdown-grace "${grace_s}s" --management false

all_but_retries_settled() {
    local settled
    settled="$(settled_count)" || return 1
    ((settled >= good + poison - retried))
}
wait_until 120 all_but_retries_settled ||
    fail "the consumer did not settle $((good + poison - retried)) messages"

stop_consumer TERM $((grace_s + 30))
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"

log="$test_dir/consumer.log"
grep -q '"event":"shutdown-drain-timeout"' "$log" ||
    fail "the consumer did not log shutdown-drain-timeout, so no message was left without its link"
summary="$(grep '"event":"shutdown-abandon"' "$log")" ||
    fail "the consumer did not log shutdown-abandon at the end of the grace period"
echo "$summary"
grep -q 'abandoned 0 messages whose writes had started' <<<"$summary" ||
    fail "the shutdown-abandon line counts abandons, but nothing was sent: $summary"
grep -q 'released 0 whose writes never started' <<<"$summary" ||
    fail "the shutdown-abandon line counts releases, but nothing was sent: $summary"
grep -q "left $retried unsettled whose link is gone" <<<"$summary" ||
    fail "the shutdown-abandon line does not count $retried messages left unsettled: $summary"
skipped="$(grep -c '"event":"settle-skipped".*--management' "$log" || true)"
((skipped == retried)) ||
    fail "the consumer logged $skipped settle-skipped lines naming --management, expected $retried"
abandons="$(grep -c '"event":"message-abandoned"' "$log" || true)"
((abandons == 0)) || fail "the consumer logged $abandons abandons, but it could send none"
grep -q '"event":"stopped"' "$log" || fail "the consumer did not log that it stopped"
echo "shutdown_skipped: ok"
