#!/usr/bin/env bash
# The level of the producer's summary follows its exit status: info for a run that exits 0,
# warn for one that exits 1 with messages rejected or left unacknowledged, and error (checked
# in summary.sh) for one that an error ended. So an alert on warn and above covers every run
# that failed to deliver messages.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# expect_summary_level LOG LEVEL: the last summary line of LOG has level LEVEL and no error.
expect_summary_level() {
    local log="$1" level="$2" summary
    summary="$(grep '"event":"summary"' "$log" | tail -1)"
    [[ -n "$summary" ]] || fail "no summary line in $log: $(tail -3 "$log.stderr")"
    grep -q "\"level\":\"$level\"" <<<"$summary" ||
        fail "the summary's level is not $level: $summary"
    if grep -q '"error":' <<<"$summary"; then
        fail "the summary names an error, but this run ended without one: $summary"
    fi
    echo "$level: $(sed -n 's/.*"msg":"\([^"]*\)".*/\1/p' <<<"$summary")"
}

# A queue capped at 5 messages: the first run fills it and exits 0.
emulator_start "$PRODUCER_TEST_DIR/capped" --max-queue-messages 5
log="$PRODUCER_TEST_DIR/accepted.log"
status=0
run_producer "$log" --connection-string "$EMULATOR_CONNECTION_STRING" --queue test-queue \
    --count 5 || status=$?
[[ "$status" == 0 ]] || fail "the run into an empty queue exited $status, expected 0"
[[ "$(summary_field "$log" accepted)" == 5 ]] || fail "the first run did not have 5 messages accepted"
expect_summary_level "$log" info

# The full queue rejects every message with amqp:resource-limit-exceeded, and without retries
# each of them fails at once.
log="$PRODUCER_TEST_DIR/rejected.log"
status=0
run_producer "$log" --connection-string "$EMULATOR_CONNECTION_STRING" --queue test-queue \
    --count 3 --max-retries 0 || status=$?
[[ "$status" == 1 ]] || fail "the run into a full queue exited $status, expected 1"
[[ "$(summary_field "$log" rejected)" == 3 ]] || fail "the run into a full queue did not count 3 rejected"
expect_summary_level "$log" warn
emulator_stop

# Unacknowledged: SIGTERM while the emulator is paused (SIGSTOP), so the messages sent after
# the pause are never acknowledged, and the 1 s grace period ends with them outstanding.
emulator_start "$PRODUCER_TEST_DIR/paused"
log="$PRODUCER_TEST_DIR/unacknowledged.log"
start_open_ended_producer "$log" 500 --shutdown-grace 1s
kill -STOP "$EMULATOR_PID"
# At 500 messages/s, messages sent after the pause stay unacknowledged.
sleep 1
kill -TERM "$PRODUCER_PID"
# The bound only stops a hung test: grace (1 s) plus the close timeout (5 s) is 6 s.
timeout 60 tail --pid="$PRODUCER_PID" -f /dev/null || fail "the producer had not exited 60 s after SIGTERM"
status=0
wait "$PRODUCER_PID" || status=$?
[[ "$status" == 1 ]] || fail "the unacknowledged run exited $status, expected 1"
unacknowledged="$(summary_field "$log" unacknowledged)"
[[ -n "$unacknowledged" ]] || fail "the summary has no unacknowledged count"
((unacknowledged > 0)) || fail "the summary counts $unacknowledged unacknowledged, expected > 0"
expect_summary_level "$log" warn
echo "summary_level: ok"
