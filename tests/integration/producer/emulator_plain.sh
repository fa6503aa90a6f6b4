#!/usr/bin/env bash
# The producer sends 10,000 messages to the Service Bus emulator over plain TCP with a SAS key
# (CBS put-token), and the official Node SDK then receives exactly 10,000: schema, content type
# and unique message-ids checked per message. A wrong key must end the run with the 401.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

emulator_start "$PRODUCER_TEST_DIR/emulator"

log="$PRODUCER_TEST_DIR/producer.log"
run_producer "$log" --connection-string "$EMULATOR_CONNECTION_STRING" --queue test-queue \
    --count 10000 --connections 2 --inflight 500 ||
    fail "the producer exited with status $?: $(tail -3 "$log.stderr")"
expect_accepted "$log" 10000
grep -q '"event":"authorized"' "$log" || fail "no CBS authorization was logged"

result="$(node "$PRODUCER_TEST_LIB/receive.js" --connection-string "$EMULATOR_CONNECTION_STRING" \
    --queue test-queue --expect 10000 --exact)" || fail "the Node SDK receiver: $result"
echo "received: $result"

# A wrong key: CBS rejects the token with 401, and the run ends with status 1 and that reason.
wrong_key="${EMULATOR_CONNECTION_STRING/SharedAccessKey=SAS_KEY_VALUE/SharedAccessKey=wrong-key}"
status=0
run_producer "$PRODUCER_TEST_DIR/wrong-key.log" --connection-string "$wrong_key" --queue test-queue \
    --count 10 || status=$?
[[ "$status" == 1 ]] || fail "with a wrong key the producer exited $status, expected 1"
grep -q 'put-token for sb://localhost:[0-9]*/test-queue was rejected with status 401' \
    "$PRODUCER_TEST_DIR/wrong-key.log.stderr" ||
    fail "the 401 did not reach the user: $(cat "$PRODUCER_TEST_DIR/wrong-key.log.stderr")"
