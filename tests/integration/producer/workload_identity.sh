#!/usr/bin/env bash
# Workload identity end to end on loopback. The producer exchanges the federated token file at a
# fake Entra endpoint, which checks every form field and that the assertion is the file's current
# contents. It then puts the jwt through CBS to the emulator over TLS and sends its messages. The
# endpoint returns expires_in 4 s, so the producer exchanges again during the run; the file is
# rotated in between and the later exchanges must carry the new contents. A second endpoint
# returns AADSTS700016, which must reach the user and end the run with status 1.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bash "$WORKLOAD_ROOT/tests/lib/ca.sh" "$PRODUCER_TEST_DIR/ca"
emulator_start "$PRODUCER_TEST_DIR/emulator" --allow-jwt --tls-port 0 \
    --tls-cert "$PRODUCER_TEST_DIR/ca/server.crt" --tls-key "$PRODUCER_TEST_DIR/ca/server.key"

token_file="$PRODUCER_TEST_DIR/azure-identity-token"
echo "eyJhbGciOiJSUzI1NiJ9.first-service-account-token.sig" >"$token_file"
token_log="$PRODUCER_TEST_DIR/token-requests.jsonl"
token_endpoint_start --log "$token_log" --tenant tenant-0001 --client-id client-0001 \
    --token-file "$token_file" --expires-in 4

export AZURE_AUTHORITY_HOST="http://127.0.0.1:$TOKEN_ENDPOINT_PORT/"
export AZURE_TENANT_ID=tenant-0001
export AZURE_CLIENT_ID=client-0001
export AZURE_FEDERATED_TOKEN_FILE="$token_file"

log="$PRODUCER_TEST_DIR/producer.log"
"$PRODUCER_BIN" --namespace "localhost:$EMULATOR_AMQPS_PORT" --ca-file "$PRODUCER_TEST_DIR/ca/ca.crt" \
    --queue test-queue --count 160 --rate 20 --progress json >"$log" 2>"$log.stderr" &
producer_pid=$!
PRODUCER_TEST_PIDS+=("$producer_pid")

for ((i = 0; i < 100; i++)); do
    [[ -s "$token_log" ]] && break
    sleep 0.1
done
echo "eyJhbGciOiJSUzI1NiJ9.rotated-service-account-token.sig" >"$token_file"

status=0
wait "$producer_pid" || status=$?
[[ "$status" == 0 ]] || fail "the producer exited $status: $(tail -3 "$log.stderr"); token requests: $(cat "$token_log")"
expect_accepted "$log" 160
grep -q 'with workload-identity' "$log" || fail "the producer did not use workload identity"

requests="$(wc -l <"$token_log")"
((requests >= 2)) || fail "only $requests token exchange(s); expected a refresh during the run"
grep -q '"ok": false' "$token_log" && fail "the endpoint rejected an exchange: $(cat "$token_log")"
grep -q '"fields": \["client_assertion", "client_assertion_type", "client_id", "grant_type", "scope"\]' \
    "$token_log" || fail "the form fields are not exactly the five expected: $(head -1 "$token_log")"
head -1 "$token_log" | grep -q 'first-service-account-token' || fail "the first exchange used another assertion"
tail -1 "$token_log" | grep -q 'rotated-service-account-token' ||
    fail "the rotated token file was not re-read: $(tail -1 "$token_log")"
grep -q '"event":"authorized"' "$log" || fail "no CBS authorization with the jwt"
echo "token exchanges: $requests"
# The fake Entra endpoint is plain HTTP: one warning names it and the token's scope, and no
# token appears in the output.
authority_warnings="$(cat "$log" "$log.stderr" | grep -c '"level":"warn".*"event":"unencrypted-credential".*AZURE_AUTHORITY_HOST http://127.0.0.1:.*servicebus.azure.net' || true)"
[[ "$authority_warnings" == 1 ]] ||
    fail "a plain HTTP AZURE_AUTHORITY_HOST gave $authority_warnings warnings, expected 1"
if grep -q -e 'service-account-token' "$log" "$log.stderr"; then
    fail "the producer's output shows the federated token"
fi

# A rejected client: the AADSTS text reaches stderr, and the run ends quickly with status 1.
rejected_log="$PRODUCER_TEST_DIR/rejected-requests.jsonl"
token_endpoint_start --log "$rejected_log" --tenant tenant-0001 --client-id client-0001 \
    --token-file "$token_file" --mode aadsts
export AZURE_AUTHORITY_HOST="http://127.0.0.1:$TOKEN_ENDPOINT_PORT/"
status=0
run_producer "$PRODUCER_TEST_DIR/rejected.log" --namespace "localhost:$EMULATOR_AMQPS_PORT" \
    --ca-file "$PRODUCER_TEST_DIR/ca/ca.crt" --queue test-queue --count 10 || status=$?
[[ "$status" == 1 ]] || fail "with a rejected client the producer exited $status, expected 1"
grep -q "AADSTS700016: Application with identifier 'client-0001' was not found" \
    "$PRODUCER_TEST_DIR/rejected.log.stderr" ||
    fail "the AADSTS error did not reach the user: $(cat "$PRODUCER_TEST_DIR/rejected.log.stderr")"
grep -q 'Trace ID' "$PRODUCER_TEST_DIR/rejected.log.stderr" && fail "more than the first line was kept"
[[ "$(wc -l <"$rejected_log")" == 1 ]] || fail "a rejected client was retried"
echo "AADSTS error reported: $(cat "$PRODUCER_TEST_DIR/rejected.log.stderr")"
