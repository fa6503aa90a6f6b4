#!/usr/bin/env bash
# Over AMQPS (TLS verified against the test CA, as against Service Bus on 5671) and HTTPS to
# Cosmos, the consumer drains a queue to the same end state.
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
EMULATOR_CONNECTION_STRING="Endpoint=sb://localhost:$EMULATOR_AMQPS_PORT;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE" \
    SERVICEBUS_CA_FILE="$COSMOS_CA_FILE" start_consumer orders "$test_dir/consumer.log"
wait_until 120 queue_drained orders 6 || fail "the queue was not drained over TLS"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
check_end_state orders "$test_dir/expected.json"
echo "tls: ok"
