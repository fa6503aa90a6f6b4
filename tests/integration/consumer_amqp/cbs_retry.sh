#!/usr/bin/env bash
# A consumer whose put-token fails keeps trying, stays not ready with the reason in /readyz, and
# starts receiving once a try succeeds, without a restart. It authorizes with workload identity
# over TLS. First the federated token file contains a stale assertion, so the token exchange fails
# (AADSTS700024). Then the test writes the current one, and the endpoint issues tokens that the
# emulator rejects (401 ExpiredToken). Last the endpoint issues valid tokens, and the queue drains.
source "$(dirname "${BASH_SOURCE[0]}")/../consumer/lib.sh"
consumer_test_setup
bash "$root/tests/lib/ca.sh" "$test_dir/ca"
emulator_stop
emulator_start "$test_dir/emulator" --allow-jwt --tls-port 0 \
    --tls-cert "$test_dir/ca/server.crt" --tls-key "$test_dir/ca/server.key" ||
    fail "the Service Bus emulator did not start with TLS"

token_file="$test_dir/federated-token"
echo "stale-service-account-token" >"$token_file"
echo "current-service-account-token" >"$test_dir/current-token"
/usr/bin/python3 "$root/tests/integration/consumer_amqp/jwt_endpoint.py" "$test_dir/token.port" \
    "$test_dir/current-token" 6 >"$test_dir/token.log" 2>&1 &
token_pid=$!
trap 'kill "$token_pid" 2>/dev/null || true; cleanup' EXIT
wait_until 10 test -s "$test_dir/token.port" || fail "the token endpoint did not start"

seed orders 100 "$test_dir/expected.json"
EMULATOR_CONNECTION_STRING="" AZURE_AUTHORITY_HOST="http://127.0.0.1:$(cat "$test_dir/token.port")/" \
    AZURE_TENANT_ID=itest-tenant AZURE_CLIENT_ID=itest-client AZURE_FEDERATED_TOKEN_FILE="$token_file" \
    start_consumer orders "$test_dir/consumer.log" --namespace "localhost:$EMULATOR_AMQPS_PORT" \
    --ca-file "$test_dir/ca/ca.crt"

readyz() { http_get "http://127.0.0.1:$CONSUMER_HEALTH_PORT/readyz"; }
failures() { grep -c '"event":"cbs-failed"' "$test_dir/consumer.log" || true; }
failed_at_least() { (($(failures) >= $1)); }

# The exchange fails: each try is logged with its attempt number, and /readyz names the cause.
wait_until 30 failed_at_least 2 || fail "the consumer did not try the put-token twice"
grep -q '"event":"cbs-failed".*(attempt 2)' "$test_dir/consumer.log" ||
    fail "the second failure does not carry its attempt number"
state="$(readyz)"
echo "readyz with a stale assertion: $state"
grep -q '"status":"not-ready"' <<<"$state" || fail "/readyz is not 503 while the exchange fails"
grep -q 'AADSTS700024' <<<"$state" || fail "/readyz does not name the AADSTS error"

# The exchange works, but Service Bus rejects the token.
echo "current-service-account-token" >"$token_file"
rejected() { readyz | grep -q 'rejected with status 401'; }
wait_until 60 rejected || fail "/readyz never named the rejected put-token"
before="$(failures)"
wait_until 60 failed_at_least "$((before + 1))" || fail "a rejected put-token was not tried again"
state="$(readyz)"
echo "readyz with a rejected token: $state"
grep -q '"status":"not-ready"' <<<"$state" || fail "/readyz is not 503 while put-token is rejected"
grep -q '"component":"amqp"' <<<"$state" || fail "/readyz does not name the AMQP component"
grep -q 'ExpiredToken' <<<"$state" || fail "/readyz does not give the service's description"
[[ "$(metric consumer_messages_received_total)" == 0 ]] || fail "messages were received without authorization"
kill -0 "$CONSUMER_PID" 2>/dev/null || fail "the consumer exited while authorization failed"

# Service Bus accepts the next token: the receiver attaches and the queue drains.
kill -USR1 "$token_pid"
ready() { readyz | grep -q '"status":"ready"'; }
wait_until 90 ready || fail "the consumer did not become ready after a valid token was issued"
wait_until 120 queue_drained orders 6 || fail "the queue was not drained"
grep -q '"event":"cbs-authorized".*authorized after [0-9]* failed attempts' "$test_dir/consumer.log" ||
    fail "the accepted put-token after failures was not logged"
grep -q 'token request -> 200 valid' "$test_dir/token.log" || fail "no valid token was issued"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
check_end_state orders "$test_dir/expected.json"
echo "cbs_retry: ok"
