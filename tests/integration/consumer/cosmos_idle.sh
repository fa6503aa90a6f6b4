#!/usr/bin/env bash
# A ready consumer with an empty queue sends no writes, so it reads the container once it has
# finished no Cosmos request for --cosmos-idle-check (2 s here, 10 s by default). /readyz then
# reports a Cosmos outage without a write to fail, and a container deleted meanwhile is created
# again with the master key. Afterwards the same consumer drains a backlog to the exact end
# state. With --cosmos-idle-check 0 an idle consumer sends no request at all.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup

start_consumer orders "$test_dir/consumer.log" --cosmos-idle-check 2s
wait_until 30 consumer_ready || fail "the consumer never became ready"

# Idle reads, each a container read that the server responds to with 200. The writer looks for
# idleness at least once a second, so reads come 2 to 3 s apart. The window between the two
# readings of the counter is 12 s plus the time a reading takes, which gives 4 to 7 reads, and
# 3 allows for a late wake-up on a loaded machine. Nothing else in this phase gets a 200: the
# start-up check creates (201) or finds (409).
reads_at_ready="$(cosmos_stat byStatus 200)"
sleep 12
reads=$(($(cosmos_stat byStatus 200) - reads_at_ready))
echo "idle container reads in about 12 s: $reads"
((reads >= 3)) || fail "$reads idle container reads in about 12 s, expected at least 3"
((reads <= 7)) || fail "$reads idle container reads in about 12 s, expected at most 7"
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

# With idle reads off, a ready consumer on an empty queue sends nothing for longer than the
# default interval of 10 s.
start_consumer orders "$test_dir/consumer-off.log" --cosmos-idle-check 0
wait_until 30 consumer_ready || fail "the consumer with idle reads off never became ready"
# The server counts each request for its counters too, so the second reading adds one.
requests_at_ready="$(cosmos_stat requests)"
sleep 12
idle_requests=$(($(cosmos_stat requests) - requests_at_ready - 1))
((idle_requests == 0)) || fail "the consumer with idle reads off sent $idle_requests requests while idle"
[[ "$(metric consumer_cosmos_idle_reads_total)" == 0 ]] ||
    fail "consumer_cosmos_idle_reads_total is $(metric consumer_cosmos_idle_reads_total) with idle reads off"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer with idle reads off exited with $CONSUMER_STATUS"
echo "cosmos_idle: ok"
