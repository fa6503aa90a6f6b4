#!/usr/bin/env bash
# The consumer drains 5,000 good messages and the poison ones: one document per good message,
# the poison ones dead-lettered with their reasons, the queue empty, and exit 0 on SIGTERM.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup

seed orders 5000 "$test_dir/expected.json"
start_consumer orders "$test_dir/consumer.log" --cosmos-ca-file "$COSMOS_CA_FILE"
wait_until 240 queue_drained orders 6 || fail "the queue was not drained"
[[ "$(metric consumer_messages_completed_total)" -ge 5000 ]] || fail "fewer than 5000 completions"
[[ "$(metric consumer_messages_dead_lettered_total)" == 6 ]] || fail "dead-letter count is not 6"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
check_end_state orders "$test_dir/expected.json"
echo "drain: ok"
