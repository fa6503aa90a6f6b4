#!/usr/bin/env bash
# A consumer whose Service Bus endpoint refuses every connection, or whose queue does not exist,
# keeps retrying until --give-up-after has passed, then exits 1 with a message that names the
# setting and the cause. By default (give-up-after 0) the consumer would keep reconnecting,
# which the reconnect test covers.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup

# expect_gave_up CASE LOG: waits for the running consumer to give up, checks that it exited 1,
# and sets gave_up to its amqp-gave-up line from LOG. It runs in this shell, not in a command
# substitution, because only this shell can wait for the consumer.
expect_gave_up() {
    local name="$1" log="$2" status=0
    wait_until 60 consumer_exited || fail "$name: the consumer still runs 60 s after it should give up"
    wait "$CONSUMER_PID" || status=$?
    CONSUMER_PID=""
    [[ "$status" == 1 ]] || fail "$name: the consumer exited $status after giving up, expected 1"
    gave_up="$(grep '"event":"amqp-gave-up"' "$log")" ||
        fail "$name: the consumer did not log that it gave up"
}

# A queue that does not exist: the connection opens, but the emulator rejects every attach of
# the receiver. Without a working link the consumer gives up all the same, and names the cause.
start_consumer nosuchqueue "$test_dir/missing-queue.log" --give-up-after 3s
expect_gave_up "missing queue" "$test_dir/missing-queue.log"
grep -q 'amqp:not-found.*nosuchqueue' <<<"$gave_up" ||
    fail "missing queue: the give-up message does not name amqp:not-found and the queue: $gave_up"
echo "missing queue: $gave_up"

# A port that nothing listens on: bound once to find it free, then released.
closed_port="$(free_port)"
EMULATOR_CONNECTION_STRING="Endpoint=sb://127.0.0.1:$closed_port;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true" \
    start_consumer orders "$test_dir/consumer.log" --give-up-after 3s
log="$test_dir/consumer.log"
expect_gave_up "refused port" "$log"
echo "$gave_up"
grep -q -- '--give-up-after' <<<"$gave_up" || fail "the give-up message does not name --give-up-after"
grep -q "127.0.0.1:$closed_port.*Connection refused" <<<"$gave_up" ||
    fail "the give-up message does not name the refused address 127.0.0.1:$closed_port"
grep -q 'gave up after 3000 ms' <<<"$gave_up" || fail "the give-up message does not state the 3 s bound"
# One failure is not a retry: the consumer must have tried again at least once. Each failed
# attempt is logged as such, never as a lost connection, because none was ever open.
attempts="$(grep -c '"event":"amqp-connect-failed"' "$log" || true)"
((attempts >= 2)) || fail "the consumer failed $attempts times before giving up, expected a retry"
grep -q '"msg":"attempt 2 to connect failed, \(next attempt in [0-9]* ms\|no further attempt\): ' "$log" ||
    fail "no failed attempt is numbered 2: $(grep '"event":"amqp-connect-failed"' "$log")"
if grep -q '"event":"amqp-disconnected"' "$log"; then
    fail "a failed attempt was logged as a lost connection"
fi
if grep -q '"event":"amqp-connected"' "$log"; then
    fail "the consumer logged a connection to a closed port"
fi
echo "give_up: the consumer exited 1 after --give-up-after and $attempts failed attempts"
