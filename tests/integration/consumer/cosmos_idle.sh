#!/usr/bin/env bash
# A ready consumer with an empty queue sends no writes, so it reads the container once it has
# finished no Cosmos request for 10 s. /readyz then reports a Cosmos outage without a write to
# fail, and a container deleted meanwhile is created again with the master key. Afterwards the
# same consumer drains a backlog to the exact end state.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup

start_consumer orders "$test_dir/consumer.log"
wait_until 30 consumer_ready || fail "the consumer never became ready"

# Idle reads: two or three in 25 s, each a container read that the server responds to with 200.
# Nothing else in this phase gets a 200: the start-up check creates (201) or finds (409).
reads_at_ready="$(cosmos_stat byStatus 200)"
sleep 25
reads=$(($(cosmos_stat byStatus 200) - reads_at_ready))
echo "idle container reads in 25 s: $reads"
((reads >= 2)) || fail "$reads idle container reads in 25 s, expected at least 2"
((reads <= 3)) || fail "$reads idle container reads in 25 s, expected at most 3"
counted="$(metric consumer_cosmos_idle_reads_total)"
((counted >= reads)) || fail "consumer_cosmos_idle_reads_total is $counted, below the $reads reads the server saw"
[[ "$(metric consumer_cosmos_idle_read_failures_total)" == 0 ]] || fail "an idle read that got 200 counted as failed"
consumer_ready || fail "an idle read made the consumer not ready"

# A deleted container is noticed by the next idle read and created again.
node "$root/tests/lib/cosmos_count.js" drop || fail "deleting the container failed"
recreated() { grep -q '"event":"cosmos-not-ready".*container itest/results not found; creating it again' "$test_dir/consumer.log"; }
wait_until 30 recreated || fail "the consumer did not notice the deleted container"
wait_until 30 consumer_ready || fail "the consumer did not become ready after creating the container"
node "$root/tests/lib/cosmos_count.js" count >/dev/null || fail "the container was not created again"

# An outage with nothing to write.
cosmos_port="${COSMOS_ENDPOINT##*:}"
cosmos_stop
unreachable() { http_get "http://127.0.0.1:$CONSUMER_HEALTH_PORT/readyz" | grep -q '"component":"cosmos".*unreachable'; }
wait_until 30 unreachable || fail "/readyz never said Cosmos DB is unreachable while idle"
echo "readyz during the outage: $(http_get "http://127.0.0.1:$CONSUMER_HEALTH_PORT/readyz")"
failures="$(metric consumer_cosmos_idle_read_failures_total)"
((failures >= 2)) || fail "consumer_cosmos_idle_read_failures_total is $failures after a deletion and an outage, expected at least 2"
[[ "$(metric consumer_messages_received_total)" == 0 ]] || fail "messages were received from an empty queue"

# The server comes back empty on its old port, and the consumer creates the container.
# NOTE: another process may take the freed port during the outage; the restart then fails.
cosmos_start "$test_dir/cosmos" --port "$cosmos_port" || fail "the Cosmos test server did not restart"
wait_until 60 consumer_ready || fail "the consumer did not become ready after Cosmos DB came back"
seed orders 50 "$test_dir/expected.json"
wait_until 120 queue_drained orders 6 || fail "the queue was not drained after the outage"
expect_no_failures
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
check_end_state orders "$test_dir/expected.json"
echo "cosmos_idle: ok"
