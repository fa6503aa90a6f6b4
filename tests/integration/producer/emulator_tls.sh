#!/usr/bin/env bash
# The same 10,000 messages over TLS: the producer verifies the emulator's certificate (signed by
# a test CA, for localhost) with --ca-file, and the Node SDK receives them over TLS too. Without
# the CA the producer must refuse the certificate and exit 1 within its give-up bound.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bash "$WORKLOAD_ROOT/tests/lib/ca.sh" "$PRODUCER_TEST_DIR/ca"
emulator_start "$PRODUCER_TEST_DIR/emulator" --tls-port 0 \
    --tls-cert "$PRODUCER_TEST_DIR/ca/server.crt" --tls-key "$PRODUCER_TEST_DIR/ca/server.key"
[[ -n "$EMULATOR_AMQPS_PORT" ]] || fail "the emulator has no TLS port"
tls_connection_string="Endpoint=sb://localhost:$EMULATOR_AMQPS_PORT;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE"

untrusted="$PRODUCER_TEST_DIR/untrusted.log"
status=0
run_producer "$untrusted" --connection-string "$tls_connection_string" --queue test-queue \
    --count 10 --give-up-after 3s || status=$?
[[ "$status" == 1 ]] || fail "without the CA the producer exited $status, expected 1"
grep -qi 'certificate' "$untrusted.stderr" ||
    fail "the error does not mention the certificate: $(cat "$untrusted.stderr")"

log="$PRODUCER_TEST_DIR/producer.log"
run_producer "$log" --connection-string "$tls_connection_string" --queue test-queue \
    --count 10000 --ca-file "$PRODUCER_TEST_DIR/ca/ca.crt" ||
    fail "the producer exited with status $?: $(tail -3 "$log.stderr")"
expect_accepted "$log" 10000
grep -q 'over TLS' "$log" || fail "the producer did not use TLS"

result="$(NODE_EXTRA_CA_CERTS="$PRODUCER_TEST_DIR/ca/ca.crt" node "$PRODUCER_TEST_LIB/receive.js" \
    --connection-string "$tls_connection_string" --queue test-queue --expect 10000 --exact)" ||
    fail "the Node SDK receiver: $result"
echo "received: $result"
