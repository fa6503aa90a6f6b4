#!/usr/bin/env bash
# A message that has not yet been written to the connection is not resent when its send
# timeout passes. A resend would only queue another copy behind it, so memory would grow with
# every timeout while the network takes no data. Here the emulator is stopped (SIGSTOP) under a
# stream of 256 KiB messages with a 100 ms send timeout. Once the socket buffers are full the
# producer must make no more transfers, and after SIGCONT every message is accepted. The stop
# (about 8 s) ends before the connection would be dropped as stalled (10 s without progress).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

emulator_start "$PRODUCER_TEST_DIR/emulator"
log="$PRODUCER_TEST_DIR/producer.log"
"$PRODUCER_BIN" --connection-string "$EMULATOR_CONNECTION_STRING" --queue test-queue \
    --count 300 --rate 100 --inflight 50 --body-size 262069 --send-timeout 100ms \
    --max-retries 100000 --progress json --progress-interval 1s >"$log" 2>&1 &
producer_pid=$!
PRODUCER_TEST_PIDS+=("$producer_pid")
for ((i = 0; i < 300; i++)); do
    grep -q '"event":"progress".*"accepted":[1-9]' "$log" && break
    sleep 0.1
done
grep -q '"event":"progress".*"accepted":[1-9]' "$log" || fail "no message was accepted"
kill -STOP "$EMULATOR_PID"

# Transfers counted by the last progress line, once a new line has been written.
sent_after_next_line() {
    local lines
    lines="$(grep -c '"event":"progress"' "$log")"
    for ((i = 0; i < 50; i++)); do
        (($(grep -c '"event":"progress"' "$log") > lines)) && break
        sleep 0.1
    done
    grep '"event":"progress"' "$log" | tail -1 | sed -n 's/.*"sent":\([0-9]*\).*/\1/p'
}
# The buffers fill within a second or two. Each transfer that was written but has no outcome
# may be resent once, and its resend then waits unframed.
sleep 3
before="$(sent_after_next_line)"
sleep 3
after="$(sent_after_next_line)"
kill -CONT "$EMULATOR_PID"
echo "transfers while the emulator was stopped: $before, 3 s later $after"
[[ "$after" == "$before" ]] ||
    fail "the producer made $((after - before)) transfers in 3 s while nothing could be written"

status=0
wait "$producer_pid" || status=$?
[[ "$status" == 0 ]] || fail "the producer exited $status after the emulator resumed"
expect_accepted "$log" 300
echo "unsent_not_resent: ok"
