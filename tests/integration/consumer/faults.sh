#!/usr/bin/env bash
# With 30 % of Cosmos writes answered 429 and 5 % answered 503, the consumer still reaches the
# same end state: it waits x-ms-retry-after-ms or backs off, and never loses or doubles a write.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup --fault-429-rate 0.3 --fault-503-rate 0.05 --retry-after-ms 20

seed orders 5000 "$test_dir/expected.json"
start_consumer orders "$test_dir/consumer.log"
wait_until 300 queue_drained orders 6 || fail "the queue was not drained"
retries_429="$(metric 'consumer_cosmos_retries_total{cause="429"}')"
retries_503="$(metric 'consumer_cosmos_retries_total{cause="503"}')"
echo "retries: $retries_429 after 429, $retries_503 after 503"
[[ "$retries_429" -gt 0 ]] || fail "no retry after a 429 was counted"
[[ "$retries_503" -gt 0 ]] || fail "no retry after a 503 was counted"
[[ "$(metric consumer_messages_dead_lettered_total)" == 6 ]] || fail "dead-letter count is not 6"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
check_end_state orders "$test_dir/expected.json"
echo "faults: ok"
