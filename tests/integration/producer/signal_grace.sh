#!/usr/bin/env bash
# SIGTERM during an open-ended run (--count 0): the producer stops issuing, waits for the
# outstanding acknowledgements, prints its summary and exits 0. The queue then contains exactly the
# accepted messages, COUNT 1 to that number.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

emulator_start "$PRODUCER_TEST_DIR/emulator"

log="$PRODUCER_TEST_DIR/producer.log"
start_open_ended_producer "$log" 500 --health-port 0 --health-bind 127.0.0.1

# The health server reports ready while the sender is attached, and --check finds it healthy.
health_port="$(sed -n 's/.*health server on 127.0.0.1:\([0-9]*\).*/\1/p' "$log")"
[[ -n "$health_port" ]] || fail "the health server port was not logged"
curl -sf "http://127.0.0.1:$health_port/readyz" >/dev/null || fail "/readyz is not ready"
"$PRODUCER_BIN" --check --health-port "$health_port" --health-bind 127.0.0.1 ||
    fail "--check of /healthz failed"
metrics="$(curl -sf "http://127.0.0.1:$health_port/metrics")" || fail "/metrics failed"
grep -q '^producer_messages_accepted_total [1-9]' <<<"$metrics" || fail "no accepted counter"

kill -TERM "$PRODUCER_PID"
status=0
wait "$PRODUCER_PID" || status=$?
[[ "$status" == 0 ]] || fail "the producer exited $status after SIGTERM: $(tail -3 "$log.stderr")"
grep -q '"event":"stopping"' "$log" || fail "the producer did not log its graceful stop"
accepted="$(summary_field "$log" accepted)"
[[ "$(summary_field "$log" unacknowledged)" == 0 ]] || fail "messages were left unacknowledged"
"$PRODUCER_BIN" --check --health-port "$health_port" 2>/dev/null &&
    fail "the health server still answers after exit"

result="$(node "$PRODUCER_TEST_LIB/receive.js" --connection-string "$EMULATOR_CONNECTION_STRING" \
    --queue test-queue --expect "$accepted" --exact)" || fail "the Node SDK receiver: $result"
echo "accepted $accepted before SIGTERM; received: $result"

# coreutils timeout sends its signal to the command and then to the command's process group, so
# the producer receives SIGTERM twice within microseconds. That is one request to stop: the
# producer must take the graceful path, not treat the copy as a second signal that stops at once.
for round in 1 2 3 4 5; do
    log="$PRODUCER_TEST_DIR/timeout-$round.log"
    status=0
    timeout --preserve-status -s TERM 1.5 "$PRODUCER_BIN" \
        --connection-string "$EMULATOR_CONNECTION_STRING" --queue test-queue --count 0 \
        --rate 500 --progress json >"$log" 2>"$log.stderr" || status=$?
    [[ "$status" == 0 ]] ||
        fail "round $round: the producer exited $status under timeout: $(tail -3 "$log.stderr")"
    grep -q '"event":"stopping"' "$log" || fail "round $round: no graceful stop was logged"
    if grep -q '"event":"stopping-now"' "$log"; then
        fail "round $round: the signal sent to the process group counted as a second signal"
    fi
done
echo "signal_grace: 5 runs under timeout stopped gracefully"
