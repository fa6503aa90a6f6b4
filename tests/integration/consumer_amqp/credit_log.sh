#!/usr/bin/env bash
# The receiver-attached log line gives the credit actually granted. Cosmos DB returns 503 to its
# first requests, the start-up check among them, so the receiver attaches while Cosmos is not
# ready. That line must report credit 0 (withheld), and a credit-granted line must follow with the
# credit granted once Cosmos is ready. credit-withheld and credit-granted lines alternate, the
# first of them a credit-withheld, although no credit was granted yet to take back. The queue
# then drains.
source "$(dirname "${BASH_SOURCE[0]}")/../consumer/lib.sh"
consumer_test_setup --fault-503-first 4 --fault-scope all

seed orders 50 "$test_dir/expected.json"
start_consumer orders "$test_dir/consumer.log" --concurrency 8 --prefetch 8
log="$test_dir/consumer.log"
wait_until 120 queue_drained orders 6 || fail "the queue was not drained"

attached="$(grep -m 1 '"event":"receiver-attached"' "$log" || true)"
granted="$(grep -m 1 '"event":"credit-granted"' "$log" || true)"
echo "attached: $attached"
echo "granted: $granted"
[[ -n "$attached" ]] || fail "no receiver-attached line"
grep -q 'with credit 0: credit is withheld until Cosmos DB is ready, then up to 16' <<<"$attached" ||
    fail "the receiver-attached line does not say that credit is withheld"
grep -q 'Cosmos DB is ready: taking messages from orders again (credit 16,' <<<"$granted" ||
    fail "no credit-granted line with the credit of 16"
pairs="$(grep -o '"event":"credit-\(withheld\|granted\)"' "$log" | cut -d '"' -f 4 | paste -sd ' ')"
echo "credit events: $pairs"
[[ "$pairs" =~ ^credit-withheld\ credit-granted(\ credit-withheld\ credit-granted)*$ ]] ||
    fail "credit-withheld and credit-granted lines do not alternate: $pairs"
# The grant follows the first time Cosmos DB is ready.
events="$(grep -o '"event":"\(cosmos-ready\|credit-granted\)"' "$log" | head -n 2 | cut -d '"' -f 4 | paste -sd ' ')"
[[ "$events" == "cosmos-ready credit-granted" ]] ||
    fail "expected cosmos-ready, then credit-granted; the log has: $events"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
check_end_state orders "$test_dir/expected.json"
echo "credit_log: ok"
