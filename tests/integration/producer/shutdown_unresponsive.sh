#!/usr/bin/env bash
# SIGTERM while Service Bus has stopped responding (the emulator is paused with SIGSTOP): the
# producer waits --shutdown-grace for acknowledgements, then 5 s for the connection to close, then
# closes it without waiting for the peer. It exits 1 with a summary that counts the messages left
# unacknowledged, long before the 60 s idle timeout would have ended the connection. The
# summary's msgs/s covers the time up to the last outcome (outcomes_s), not the grace period
# that duration_s also counts. Then two more cases against the paused emulator: SIGTERM while
# a connection is still at the AMQP header, and a second signal during the grace period. Neither
# may wait for a close handshake.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

emulator_start "$PRODUCER_TEST_DIR/emulator"
log="$PRODUCER_TEST_DIR/producer.log"
start_open_ended_producer "$log" 500 --shutdown-grace 2s

kill -STOP "$EMULATOR_PID"
# At 500 messages/s, messages sent after the pause stay unacknowledged.
sleep 1
kill -TERM "$PRODUCER_PID"

# Grace (2 s) plus the close timeout (5 s) is 7 s. The 40 s bound is far above that and far
# below the 60 s idle timeout, which ended the connection when nothing bounded the close.
status=0
timeout 40 tail --pid="$PRODUCER_PID" -f /dev/null || fail "the producer had not exited 40 s after SIGTERM"
wait "$PRODUCER_PID" || status=$?
[[ "$status" == 1 ]] || fail "the producer exited $status, expected 1: $(tail -3 "$log.stderr")"

grep -q '"event":"shutdown-grace-over"' "$log" || fail "no shutdown-grace-over line"
grep -q '"event":"shutdown-timeout"' "$log" || fail "no shutdown-timeout line"
unacknowledged="$(summary_field "$log" unacknowledged)"
[[ -n "$unacknowledged" ]] || fail "the summary has no unacknowledged count"
((unacknowledged > 0)) || fail "the summary counts $unacknowledged unacknowledged, expected > 0"
grep '"event":"summary"' "$log" | grep -qF "$unacknowledged unacknowledged" ||
    fail "the summary message does not state the $unacknowledged unacknowledged messages"
# The forced close is reported by shutdown-timeout; Proton's line about it is logged at debug.
if grep -q '"level":"error","service":"producer","event":"proton"' "$log"; then
    fail "the forced close was also logged at error by Proton: $(grep '"event":"proton"' "$log" | head -n 1)"
fi

# The emulator sent no outcome after its pause, 1 s before the signal, and the grace period
# (2 s) starts at the signal. So the last outcome comes at least 2 s before the end of the run.
duration_s="$(summary_field "$log" duration_s)"
outcomes_s="$(summary_field "$log" outcomes_s)"
accepted="$(summary_field "$log" accepted)"
msgs_per_s="$(summary_field "$log" msgs_per_s)"
[[ -n "$outcomes_s" ]] || fail "the summary has no outcomes_s"
[[ -n "$msgs_per_s" ]] || fail "the summary has no msgs_per_s"
awk -v outcomes="$outcomes_s" -v duration="$duration_s" 'BEGIN { exit !(outcomes + 2 <= duration) }' ||
    fail "the last outcome at $outcomes_s s is less than the 2 s grace period before the end at $duration_s s"
# msgs_per_s is rounded to 0.1 and outcomes_s to 1 ms, so the bound allows both roundings.
awk -v accepted="$accepted" -v outcomes="$outcomes_s" -v rate="$msgs_per_s" \
    'BEGIN { d = rate - accepted / outcomes; bound = 0.06 + accepted * 0.0005 / (outcomes * outcomes)
             exit !(d < bound && d > -bound) }' ||
    fail "msgs_per_s is $msgs_per_s, expected $accepted accepted / $outcomes_s s up to the last outcome"
echo "exited $status with $unacknowledged messages unacknowledged; $accepted accepted at $msgs_per_s msgs/s up to $outcomes_s s of $duration_s s"

# A connection that has not opened AMQP yet has no close handshake to wait for. The emulator is
# still paused, so this producer's attempt stays at the AMQP header until SIGTERM, which must
# end it without the close timeout.
log="$PRODUCER_TEST_DIR/connecting.log"
"$PRODUCER_BIN" --connection-string "$EMULATOR_CONNECTION_STRING" --queue test-queue --count 10 \
    --progress off >"$log" 2>&1 &
connecting_pid=$!
PRODUCER_TEST_PIDS+=("$connecting_pid")
sleep 1
kill -TERM "$connecting_pid"
status=0
timeout 40 tail --pid="$connecting_pid" -f /dev/null || fail "connecting: the producer had not exited 40 s after SIGTERM"
wait "$connecting_pid" || status=$?
[[ "$status" == 1 ]] || fail "connecting: the producer exited $status, expected 1"
if grep -q '"event":"shutdown-timeout"' "$log"; then
    fail "connecting: the producer waited for a close handshake on a connection that never opened"
fi
echo "connecting: exited $status without waiting for a close"

# A second signal stops at once: the producer does not wait for the paused peer to confirm the
# close either.
kill -CONT "$EMULATOR_PID"
log="$PRODUCER_TEST_DIR/second-signal.log"
start_open_ended_producer "$log" 500 --shutdown-grace 30s
kill -STOP "$EMULATOR_PID"
sleep 1
kill -TERM "$PRODUCER_PID"
for ((i = 0; i < 50; i++)); do
    grep -q '"event":"stopping"' "$log" && break
    sleep 0.1
done
kill -INT "$PRODUCER_PID"
status=0
timeout 40 tail --pid="$PRODUCER_PID" -f /dev/null || fail "second signal: the producer had not exited 40 s after it"
wait "$PRODUCER_PID" || status=$?
[[ "$status" == 1 ]] || fail "second signal: the producer exited $status, expected 1"
grep -q '"event":"stopping-now"' "$log" || fail "second signal: no stopping-now line"
if grep -q '"event":"shutdown-timeout"' "$log"; then
    fail "second signal: the producer still waited for the peer to confirm the close"
fi
echo "second signal: exited $status at once"
