#!/usr/bin/env bash
# SIGTERM while Service Bus has stopped responding (the emulator is paused with SIGSTOP): the
# drain, the settlements and the AMQP close all get no reply. When its close timeout ends, the
# consumer must log shutdown-timeout, close the socket without waiting for the peer, see the
# connection stop and exit 0, without reaching shutdown-abort-timeout. Run from a build with
# -DWORKLOAD_SANITIZE=ON, the test also checks that this path leaks nothing: LeakSanitizer
# reports a leak in the log and makes the exit status non-zero.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

queue="frozen"
good=20
poison=6
grace_s=1
test_dir="$(mktemp -d)"
# A paused emulator handles the SIGTERM of the cleanup only once it runs again.
resume_emulator_and_clean_up() {
    if [[ -n "${EMULATOR_PID:-}" ]]; then
        kill -CONT "$EMULATOR_PID" 2>/dev/null || true
    fi
    cleanup
}
trap resume_emulator_and_clean_up EXIT

write_queue_config "$test_dir/Config.json" PT5M 10 "$queue"
export EMULATOR_CONFIG="$test_dir/Config.json"
consumer_test_setup
seed "$queue" "$good" "$test_dir/expected.json"
start_consumer "$queue" "$test_dir/consumer.log" --cosmos-ca-file "$COSMOS_CA_FILE" \
    --shutdown-grace "${grace_s}s"
wait_until 120 queue_drained "$queue" "$poison" || fail "the consumer did not drain the queue"

kill -STOP "$EMULATOR_PID"
# The limit is far above the consumer's own bounds after the signal (the grace period, 2 s for
# the drain, 2 s for settlements and 3 s for the close), so that only a consumer that hangs
# fails. Before the close timeout existed, the 60 s idle timeout ended such a connection.
stop_consumer TERM 40
log="$test_dir/consumer.log"
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"

grep -q '"event":"shutdown-timeout"' "$log" ||
    fail "the consumer did not log shutdown-timeout, so the frozen peer did not block the close"
grep '"event":"shutdown-timeout"' "$log"
if grep -q '"event":"shutdown-abort-timeout"' "$log"; then
    fail "the connection did not stop after the close without waiting for the peer"
fi
grep -q '"event":"amqp-closed"' "$log" || fail "the consumer did not log that the connection closed"
grep -q '"event":"stopped"' "$log" || fail "the consumer did not log that it stopped"
if grep -q 'Sanitizer' "$log"; then
    fail "a sanitizer reported an error: $(grep -m 1 -A 12 'Sanitizer' "$log")"
fi
echo "shutdown_frozen: ok"
