#!/usr/bin/env bash
# The summary of a run that never connects states the requested count and the cause. Here the
# emulator's certificate comes from a CA the producer does not trust, so every TLS handshake
# fails until --give-up-after ends the run with exit 1.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bash "$WORKLOAD_ROOT/tests/lib/ca.sh" "$PRODUCER_TEST_DIR/ca"
emulator_start "$PRODUCER_TEST_DIR/emulator" --tls-port 0 \
    --tls-cert "$PRODUCER_TEST_DIR/ca/server.crt" --tls-key "$PRODUCER_TEST_DIR/ca/server.key"
[[ -n "$EMULATOR_AMQPS_PORT" ]] || fail "the emulator has no TLS port"
connection_string="Endpoint=sb://localhost:$EMULATOR_AMQPS_PORT;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE"

log="$PRODUCER_TEST_DIR/untrusted.log"
status=0
run_producer "$log" --connection-string "$connection_string" --queue test-queue --count 5 \
    --give-up-after 3s || status=$?
[[ "$status" == 1 ]] || fail "the untrusted run exited $status, expected 1"

summary="$(grep '"event":"summary"' "$log" | tail -1)"
[[ -n "$summary" ]] || fail "no summary line in $(cat "$log")"
grep -q '"level":"error"' <<<"$summary" || fail "a failed run's summary is not an error: $summary"
grep -q '"requested":5,' <<<"$summary" || fail "the summary lacks the requested count: $summary"
grep -q '"issued":0,' <<<"$summary" || fail "the summary counts issued messages: $summary"
grep -q '"msg":"0 of 5 requested messages accepted in [0-9.]* s: ' <<<"$summary" ||
    fail "the summary does not say 0 of 5 and why: $summary"
grep -qi '"error":"[^"]*certificate' <<<"$summary" ||
    fail "the summary's error does not name the certificate: $summary"
echo "summary: $(sed -n 's/.*"msg":"\([^"]*\)".*/\1/p' <<<"$summary")"

# A run that --duration ends before any connection opened did nothing, so it fails too, with an
# error stating that no sender was attached. Nothing listens on the port of this run.
closed_port="$(free_port)"
log="$PRODUCER_TEST_DIR/never-connected.log"
status=0
run_producer "$log" --connection-string \
    "Endpoint=sb://127.0.0.1:$closed_port;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true" \
    --queue test-queue --count 100 --duration 2s || status=$?
[[ "$status" == 1 ]] || fail "the run that never connected exited $status, expected 1"
summary="$(grep '"event":"summary"' "$log" | tail -1)"
grep -q '"level":"error"' <<<"$summary" || fail "its summary is not an error: $summary"
grep -q '"error":"no sender link to test-queue was attached' <<<"$summary" ||
    fail "its summary's error does not say that no sender was attached: $summary"
echo "never connected: exit $status"

# A queue that does not exist: the emulator rejects the attach and detaches with amqp:not-found,
# which no retry can fix. The run ends at once, and the rejected link is not logged as attached.
log="$PRODUCER_TEST_DIR/missing-queue.log"
status=0
run_producer "$log" --connection-string "$EMULATOR_CONNECTION_STRING" --queue no-such-queue \
    --count 5 || status=$?
[[ "$status" == 1 ]] || fail "the run to a missing queue exited $status, expected 1"
summary="$(grep '"event":"summary"' "$log" | tail -1)"
grep -q '"error":"[^"]*amqp:not-found[^"]*no-such-queue' <<<"$summary" ||
    fail "its summary's error does not name amqp:not-found and the queue: $summary"
if grep -q '"event":"sender-attached"' "$log"; then
    fail "the rejected sender was logged as attached: $(grep '"event":"sender-attached"' "$log")"
fi
echo "missing queue: exit $status"
