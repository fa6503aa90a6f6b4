#!/usr/bin/env bash
# With a SAS key that the emulator rejects, the consumer keeps retrying the put-token with
# backoff instead of stopping. Each failure is logged with its attempt number, /readyz stays
# 503 and names the 401, and /healthz stays 200. No message is received, and SIGTERM still
# ends the process with status 0.
source "$(dirname "${BASH_SOURCE[0]}")/../consumer/lib.sh"
consumer_test_setup

seed orders 20 "$test_dir/expected.json"
EMULATOR_CONNECTION_STRING="${EMULATOR_CONNECTION_STRING/SharedAccessKey=SAS_KEY_VALUE/SharedAccessKey=wrong-key}" \
    start_consumer orders "$test_dir/consumer.log"

tried_three_times() { grep -q '"event":"cbs-failed".*(attempt 3)' "$test_dir/consumer.log"; }
wait_until 30 tried_three_times || fail "the consumer did not try the put-token three times"
readyz="$(http_get "http://127.0.0.1:$CONSUMER_HEALTH_PORT/readyz")"
echo "readyz: $readyz"
grep -q '"status":"not-ready"' <<<"$readyz" || fail "/readyz is not 503 with a rejected key"
grep -q 'rejected with status 401' <<<"$readyz" || fail "/readyz does not name the 401"
"$CONSUMER_BIN" --check --health-port "$CONSUMER_HEALTH_PORT" || fail "/healthz is not 200"
[[ "$(metric consumer_messages_received_total)" == 0 ]] || fail "messages were received without authorization"
[[ "$(queue_count orders ActiveMessageCount)" == 26 ]] || fail "messages left the queue"

stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
echo "cbs_wrong_key: ok"
