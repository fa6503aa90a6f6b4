#!/usr/bin/env bash
# The producer reaches the Service Bus emulator listening on the IPv6 loopback address through
# Endpoint=sb://[::1]:PORT: it connects to ::1, and CBS authorizes the audience with the address
# in brackets, as a URI writes it. Exits 77 (skipped) when the host has no IPv6 loopback.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! ip -6 addr show lo 2>/dev/null | grep -q 'inet6 ::1/128'; then
    echo "skipped: no IPv6 loopback address ::1"
    exit 77
fi

emulator_start "$PRODUCER_TEST_DIR/emulator" --bind ::1 --log-level debug
connection="Endpoint=sb://[::1]:$EMULATOR_AMQP_PORT;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true"

log="$PRODUCER_TEST_DIR/producer.log"
run_producer "$log" --connection-string "$connection" --queue test-queue --count 20 ||
    fail "the producer exited with status $?: $(tail -3 "$log.stderr")"
expect_accepted "$log" 20
grep -q "\"event\":\"target\".*on \[::1\]:$EMULATOR_AMQP_PORT over plain TCP" "$log" ||
    fail "the target line does not name [::1]:$EMULATOR_AMQP_PORT: $(grep '"event":"target"' "$log")"
grep -q "token accepted for sb://\[::1\]:$EMULATOR_AMQP_PORT/test-queue" \
    "$PRODUCER_TEST_DIR/emulator/emulator.log" ||
    fail "CBS did not authorize sb://[::1]:$EMULATOR_AMQP_PORT/test-queue"
echo "sent 20 messages to [::1]:$EMULATOR_AMQP_PORT"
