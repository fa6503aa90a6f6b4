#!/usr/bin/env bash
# A consumer whose Service Bus endpoint refuses every connection keeps retrying until
# --give-up-after has passed, then exits 1 with a message that names the setting. By default
# (give-up-after 0) the consumer would keep reconnecting, which the reconnect test covers.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup

# A port that nothing listens on: bound once to find it free, then released.
closed_port="$(free_port)"
EMULATOR_CONNECTION_STRING="Endpoint=sb://127.0.0.1:$closed_port;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true" \
    start_consumer orders "$test_dir/consumer.log" --give-up-after 3s

status=0
for ((i = 0; i < 600; i++)); do
    kill -0 "$CONSUMER_PID" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$CONSUMER_PID" 2>/dev/null && fail "the consumer still runs 60 s after it should give up"
wait "$CONSUMER_PID" || status=$?
CONSUMER_PID=""
[[ "$status" == 1 ]] || fail "the consumer exited $status after giving up, expected 1"
grep -q '"event":"amqp-gave-up".*--give-up-after' "$test_dir/consumer.log" ||
    fail "the consumer did not log that it gave up"
grep -q '"event":"amqp-disconnected"' "$test_dir/consumer.log" ||
    fail "the consumer did not retry before giving up"
echo "give_up: the consumer exited 1 after --give-up-after"
