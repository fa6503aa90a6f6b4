#!/usr/bin/env bash
# SIGINT stops the producer even when it was started with SIGINT ignored, as every background
# job of a non-interactive shell is. The producer restores the default action before it blocks
# the signal for its signal thread. On SIGINT it stops issuing, waits for the outstanding
# acknowledgements, prints its summary and exits 0, the same as after SIGTERM.
#
# Linux keeps a blocked signal pending even when its action is "ignore", so the stop itself
# would work there without the reset. The check of SigIgn is what fails when it is missing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

emulator_start "$PRODUCER_TEST_DIR/emulator"

# Children of this shell inherit SIGINT as ignored from here on. The check that they really do
# keeps the test from passing without exercising the case.
trap '' INT
ignored_mask="$(awk '/^SigIgn:/ { print $2 }' /proc/self/status)"
(((16#$ignored_mask & 2) != 0)) || fail "SIGINT is not ignored in a child (SigIgn $ignored_mask)"

log="$PRODUCER_TEST_DIR/producer.log"
start_open_ended_producer "$log" 200

running_mask="$(awk '/^SigIgn:/ { print $2 }' "/proc/$PRODUCER_PID/status")"
(((16#$running_mask & 2) == 0)) || fail "the running producer still ignores SIGINT (SigIgn $running_mask)"

kill -INT "$PRODUCER_PID"
# The bound only keeps a producer that ignores SIGINT from hanging the test.
for ((i = 0; i < 600; i++)); do
    kill -0 "$PRODUCER_PID" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$PRODUCER_PID" 2>/dev/null && fail "the producer still runs 60 s after SIGINT"
status=0
wait "$PRODUCER_PID" || status=$?
[[ "$status" == 0 ]] || fail "the producer exited $status after SIGINT: $(tail -3 "$log.stderr")"
grep -q '"event":"stopping"' "$log" || fail "the producer did not log its graceful stop"
[[ "$(summary_field "$log" unacknowledged)" == 0 ]] || fail "messages were left unacknowledged"
echo "the producer stopped on SIGINT after $(summary_field "$log" accepted) accepted messages"
