#!/usr/bin/env bash
# Over AMQPS (TLS verified against the test CA, as against Service Bus on 5671) and HTTPS to
# Cosmos, the consumer drains a queue to the same end state, and later Cosmos connections resume
# the TLS session of the first. With a CA that did not sign the emulator's certificate,
# it rejects the certificate and gives up.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_dir="$(mktemp -d)"
trap cleanup EXIT
cosmos_start "$test_dir/cosmos" || fail "the Cosmos test server did not start"
emulator_start "$test_dir/emulator" --tls-port 0 --tls-cert "$test_dir/cosmos/server.crt" \
    --tls-key "$test_dir/cosmos/server.key" || fail "the Service Bus emulator did not start"
export COSMOS_DATABASE="itest" COSMOS_CONTAINER="results"
[[ -n "$EMULATOR_AMQPS_PORT" ]] || fail "the emulator opened no AMQPS port"

seed orders 500 "$test_dir/expected.json"
# Without UseDevelopmentEmulator an sb:// endpoint means TLS; the server certificate names
# localhost and is signed by the test CA that cosmos_start made.
tls_connection_string="Endpoint=sb://localhost:$EMULATOR_AMQPS_PORT;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE"

# A CA that did not sign the emulator's certificate: the consumer must reject the
# certificate on every attempt and give up without touching the queue.
"$root/tests/lib/ca.sh" "$test_dir/other-ca" >/dev/null 2>&1 || fail "making the second test CA failed"
EMULATOR_CONNECTION_STRING="$tls_connection_string" SERVICEBUS_CA_FILE="$test_dir/other-ca/ca.crt" \
    start_consumer orders "$test_dir/consumer-other-ca.log" --give-up-after 2s
connected_or_exited() {
    grep -q '"event":"amqp-connected"' "$test_dir/consumer-other-ca.log" || consumer_exited
}
wait_until 60 connected_or_exited || fail "the consumer with the wrong CA did not give up"
if grep -q '"event":"amqp-connected"' "$test_dir/consumer-other-ca.log"; then
    fail "the consumer connected although it does not trust the emulator's CA"
fi
status=0
wait "$CONSUMER_PID" || status=$?
CONSUMER_PID=""
[[ "$status" == 1 ]] || fail "the consumer with the wrong CA exited $status, expected 1"
grep -q '"event":"amqp-gave-up".*certificate verify failed' "$test_dir/consumer-other-ca.log" ||
    fail "the consumer with the wrong CA did not report the failed certificate check"
[[ "$(queue_count orders ActiveMessageCount)" == 506 ]] || fail "messages left the queue"

EMULATOR_CONNECTION_STRING="$tls_connection_string" SERVICEBUS_CA_FILE="$COSMOS_CA_FILE" \
    start_consumer orders "$test_dir/consumer.log"
wait_until 120 queue_drained orders 6 || fail "the queue was not drained over TLS"
expect_no_failures
# The start-up check opens the first Cosmos connection with a full TLS handshake, and the first
# connection that an upsert opens resumes its session. How many of the later ones resume depends
# on timing. OpenSSL offers a TLS 1.3 session only once, and a connection gets a session of its
# own only with its first response. Connections opened in quick succession may find none.
connections="$(metric consumer_cosmos_connections_total)"
resumptions="$(metric consumer_cosmos_tls_resumptions_total)"
((connections >= 2)) || fail "the consumer opened $connections Cosmos connections, expected several"
((resumptions >= 1 && resumptions < connections)) ||
    fail "$resumptions of $connections Cosmos connections resumed a TLS session, expected 1 or more but not the first"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
check_end_state orders "$test_dir/expected.json"
echo "tls: ok"
