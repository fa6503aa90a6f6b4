#!/usr/bin/env bash
# With 30 % of Cosmos writes answered 429 and 5 % answered 503, the consumer still reaches the
# same end state: it waits x-ms-retry-after-ms or backs off, and never loses or doubles a write.
# With no abandon, lost lock or reconnect, check.js end requires exact counts.
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
# Each fault that the server injected is retried once, and nothing else is: no message
# reached its deadline, so every write ended in a document.
injected_429="$(cosmos_stat injected 429)" && injected_503="$(cosmos_stat injected 503)" ||
    fail "reading the Cosmos test server's counters failed"
echo "injected: $injected_429 429s, $injected_503 503s"
[[ "$retries_429" == "$injected_429" ]] || fail "$retries_429 retries after 429, but the server sent $injected_429"
[[ "$retries_503" == "$injected_503" ]] || fail "$retries_503 retries after 503, but the server sent $injected_503"
requests="$(metric consumer_cosmos_request_seconds_count)"
expected_requests=$((5000 + injected_429 + injected_503))
[[ "$requests" == "$expected_requests" ]] ||
    fail "the consumer sent $requests document requests, expected $expected_requests"
expect_no_failures
[[ "$(metric consumer_messages_dead_lettered_total)" == 6 ]] || fail "dead-letter count is not 6"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
check_end_state orders "$test_dir/expected.json"
echo "faults: ok"
