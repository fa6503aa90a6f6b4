#!/usr/bin/env bash
# SIGTERM while Service Bus has stopped responding (the emulator is paused with SIGSTOP): the
# producer waits --shutdown-grace for acknowledgements, then 5 s for the connection to close, then
# closes it without waiting for the peer. It exits 1 with a summary that counts the messages left
# unacknowledged, long before the 60 s idle timeout would have ended the connection. The
# summary's msgs/s covers the time up to the last outcome (outcomes_s), not the grace period
# that duration_s also counts.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

emulator_start "$PRODUCER_TEST_DIR/emulator"
# A paused emulator handles the SIGTERM of the cleanup only once it runs again.
resume_emulator_and_clean_up() {
    if [[ -n "${EMULATOR_PID:-}" ]]; then
        kill -CONT "$EMULATOR_PID" 2>/dev/null || true
    fi
    producer_test_cleanup
}
trap resume_emulator_and_clean_up EXIT

log="$PRODUCER_TEST_DIR/producer.log"
"$PRODUCER_BIN" --connection-string "$EMULATOR_CONNECTION_STRING" --queue test-queue --count 0 \
    --rate 500 --shutdown-grace 2s --progress json --progress-interval 1s >"$log" \
    2>"$log.stderr" &
producer_pid=$!
PRODUCER_TEST_PIDS+=("$producer_pid")

for ((i = 0; i < 300; i++)); do
    grep -q '"event":"progress".*"accepted":[1-9]' "$log" && break
    sleep 0.1
done
grep -q '"event":"progress".*"accepted":[1-9]' "$log" || fail "no message was accepted"

kill -STOP "$EMULATOR_PID"
# At 500 messages/s, messages sent after the pause stay unacknowledged.
sleep 1
kill -TERM "$producer_pid"

# Grace (2 s) plus the close timeout (5 s) is 7 s. The 40 s bound is far above that and far
# below the 60 s idle timeout, which ended the connection when nothing bounded the close.
status=0
timeout 40 tail --pid="$producer_pid" -f /dev/null || fail "the producer had not exited 40 s after SIGTERM"
wait "$producer_pid" || status=$?
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
