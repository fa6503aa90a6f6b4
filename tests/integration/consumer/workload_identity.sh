#!/usr/bin/env bash
# Without COSMOS_KEY the consumer signs Cosmos requests with an Entra token fetched through
# workload identity. Such a token cannot create containers, so while the container is missing
# /readyz says how to create it and no message is taken; once it exists, the queue drains.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
access_token="itest-access-token"
consumer_test_setup --aad-token "$access_token"

echo "federated-service-account-token" >"$test_dir/federated-token"
/usr/bin/python3 "$here/token_server.py" "$test_dir/token.ready" "$test_dir/federated-token" \
    "$access_token" itest-client >"$test_dir/token.log" 2>&1 &
token_pid=$!
trap 'kill "$token_pid" 2>/dev/null || true; cleanup' EXIT
wait_until 10 test -s "$test_dir/token.ready" || fail "the token server did not start"

seed orders 200 "$test_dir/expected.json"
cosmos_key="$COSMOS_KEY"
COSMOS_KEY="" AZURE_AUTHORITY_HOST="http://127.0.0.1:$(cat "$test_dir/token.ready")/" \
    AZURE_TENANT_ID=itest-tenant AZURE_CLIENT_ID=itest-client \
    AZURE_FEDERATED_TOKEN_FILE="$test_dir/federated-token" \
    start_consumer orders "$test_dir/consumer.log"

missing() { http_get "http://127.0.0.1:$CONSUMER_HEALTH_PORT/readyz" | grep -q "az cosmosdb sql container create"; }
wait_until 30 missing || fail "/readyz never said how to create the missing container"
attached() { grep -q '"event":"receiver-attached".*credit 0: credit is withheld' "$test_dir/consumer.log"; }
wait_until 30 attached || fail "the consumer did not attach its receiver with credit withheld"
# not_found_total: how many 404 responses the Cosmos test server has sent.
not_found_total() {
    cosmos_stat byStatus 404
}
# A container read that fails after the attach shows that the consumer had its receiver while
# it knew the container was missing, so a consumer that granted credit then would hold
# messages by now.
not_found_at_attach="$(not_found_total)"
not_found_again() { (($(not_found_total) > not_found_at_attach)); }
wait_until 60 not_found_again || fail "the consumer did not read the container again after the attach"
[[ "$(metric consumer_messages_received_total)" == 0 ]] || fail "messages were taken while the container was missing"
[[ "$(queue_count orders ActiveMessageCount)" == 206 ]] || fail "messages left the queue while the container was missing"

COSMOS_KEY="$cosmos_key" node "$root/tests/lib/cosmos_count.js" init || fail "creating the container failed"
wait_until 120 queue_drained orders 6 || fail "the queue was not drained"
refreshes="$(metric consumer_token_refreshes_total)"
((refreshes >= 1)) || fail "no Entra token was fetched"
grep -q "token request .* -> 200" "$test_dir/token.log" || fail "the token server granted nothing"
if grep -q -- "-> 400" "$test_dir/token.log"; then
    fail "the token server rejected a token request: $(grep -m 1 -- "-> 400" "$test_dir/token.log")"
fi
# Nothing fails once the container exists.
expect_no_failures
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
check_end_state orders "$test_dir/expected.json"
# The token server is plain HTTP: one warning names it and the token's scope, and neither token
# appears in the log.
authority_warnings="$(grep -c '"level":"warn".*"event":"unencrypted-credential".*AZURE_AUTHORITY_HOST http://127.0.0.1:.*documents.azure.com' "$test_dir/consumer.log" || true)"
[[ "$authority_warnings" == 1 ]] ||
    fail "a plain HTTP AZURE_AUTHORITY_HOST gave $authority_warnings warnings, expected 1"
if grep -q -e "federated-service-account-token" -e "$access_token" "$test_dir/consumer.log"; then
    fail "the consumer log shows a token: $(grep -m 1 -e "federated-service-account-token" -e "$access_token" "$test_dir/consumer.log")"
fi
echo "workload_identity: ok"
