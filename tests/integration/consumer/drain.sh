#!/usr/bin/env bash
# The consumer drains 5,000 good messages and the poison ones: one document per good message,
# the poison ones dead-lettered with their reasons, the queue empty, and exit 0 on SIGTERM.
# Nothing fails on the way, so every count is exact: each message is received once, each
# document is written with one request that creates it, and nothing is abandoned or retried.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup

seed orders 5000 "$test_dir/expected.json"
start_consumer orders "$test_dir/consumer.log" --cosmos-ca-file "$COSMOS_CA_FILE"
wait_until 240 queue_drained orders 6 || fail "the queue was not drained"

# expect_metric NAME VALUE: the consumer's metric NAME must be exactly VALUE.
expect_metric() {
    local value
    value="$(metric "$1")" || fail "the consumer has no metric $1"
    [[ "$value" == "$2" ]] || fail "$1 is $value, expected $2"
}
expect_metric consumer_messages_received_total 5006
expect_metric consumer_messages_completed_total 5000
expect_metric consumer_messages_dead_lettered_total 6
expect_metric consumer_messages_abandoned_total 0
expect_metric consumer_locks_lost_total 0
expect_metric consumer_reconnects_total 0
expect_metric consumer_late_settlements_total 0
expect_metric consumer_messages_in_flight 0
expect_metric consumer_cosmos_request_seconds_count 5000
for cause in 408 429 449 500 502 503 504 other transport; do
    expect_metric "consumer_cosmos_retries_total{cause=\"$cause\"}" 0
done
# The server's view: 5,000 documents, the database and the container created, and no other
# status, so no document was written twice (a second upsert of an id returns 200).
statuses="$(cosmos_stat byStatus)" ||
    fail "reading the Cosmos test server's counters failed"
[[ "$statuses" == '{"201":5002}' ]] || fail "the Cosmos test server answered $statuses, expected {\"201\":5002}"

stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
check_end_state orders "$test_dir/expected.json"
echo "drain: ok"
