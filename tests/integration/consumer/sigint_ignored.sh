#!/usr/bin/env bash
# SIGINT stops the consumer even when it was started with SIGINT ignored, as every background
# job of a non-interactive shell is. The consumer restores the default action before it blocks
# the signal for its signal thread. On SIGINT it drains and exits 0, as after SIGTERM.
#
# Linux keeps a blocked signal pending even when its action is "ignore", so the stop itself
# would work there without the reset. The check of SigIgn is what fails when it is missing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup

# Children of this shell inherit SIGINT as ignored from here on. The check that they really do
# keeps the test from passing without exercising the case.
trap '' INT
ignored_mask="$(awk '/^SigIgn:/ { print $2 }' /proc/self/status)"
(((16#$ignored_mask & 2) != 0)) || fail "SIGINT is not ignored in a child (SigIgn $ignored_mask)"

# seed.js adds six poison messages, which end in the dead-letter queue.
seed orders 50 "$test_dir/expected.json"
start_consumer orders "$test_dir/consumer.log"
wait_until 120 queue_drained orders 6 || fail "the consumer did not drain the queue"

running_mask="$(awk '/^SigIgn:/ { print $2 }' "/proc/$CONSUMER_PID/status")"
(((16#$running_mask & 2) == 0)) || fail "the running consumer still ignores SIGINT (SigIgn $running_mask)"

# stop_consumer fails when the consumer still runs long after the signal.
stop_consumer INT
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGINT"
grep -q '"event":"shutdown"' "$test_dir/consumer.log" || fail "no shutdown line in the log"
grep -q '"event":"stopped"' "$test_dir/consumer.log" || fail "no stopped line in the log"
check_end_state orders "$test_dir/expected.json"
echo "sigint_ignored: ok"
