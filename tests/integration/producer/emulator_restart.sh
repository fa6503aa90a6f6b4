#!/usr/bin/env bash
# The emulator is killed and started again on the same port while the producer sends 3,000
# messages at 300/s, with messages in flight. The producer must reconnect, resend what had no
# outcome, and finish with exit 0; a Node SDK receiver running throughout must see every COUNT
# from 1 to 3,000 at least once. Duplicates are allowed (at-least-once) and reported.
#
# The emulator keeps messages in memory, so a restart loses what it accepted and had not yet
# delivered, which a durable Service Bus would keep. The producer is therefore paused (SIGSTOP)
# until the receiver has taken every message the emulator holds. Then the emulator is paused,
# so that it accepts nothing more, and the producer resumes and sends messages that get no
# outcome. The emulator is then killed with SIGKILL, which it cannot handle, so those messages
# are in flight when the connection drops and must be resent. /metrics counts the reconnect.
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
port="$EMULATOR_AMQP_PORT"
connection_string="$EMULATOR_CONNECTION_STRING"

received="$PRODUCER_TEST_DIR/received.json"
node "$PRODUCER_TEST_LIB/receive.js" --connection-string "$connection_string" --queue test-queue \
    --expect 3000 --allow-duplicates --timeout-s 180 >"$received" 2>"$received.stderr" &
receiver_pid=$!
PRODUCER_TEST_PIDS+=("$receiver_pid")

log="$PRODUCER_TEST_DIR/producer.log"
"$PRODUCER_BIN" --connection-string "$connection_string" --queue test-queue --count 3000 \
    --rate 300 --send-timeout 5s --give-up-after 60s --progress json --progress-interval 1s \
    --health-port 0 --health-bind 127.0.0.1 >"$log" 2>"$log.stderr" &
producer_pid=$!
PRODUCER_TEST_PIDS+=("$producer_pid")

# Restart once the producer is well into the run (it needs about 10 s in all).
for ((i = 0; i < 300; i++)); do
    grep -q '"event":"progress".*"accepted":[1-9][0-9]\{2,\}' "$log" && break
    sleep 0.1
done
kill -0 "$producer_pid" 2>/dev/null || fail "the producer ended before the restart"
kill -STOP "$producer_pid"
active_messages() {
    curl -sf "http://127.0.0.1:$EMULATOR_HTTP_PORT/test-queue?api-version=2021-05" |
        grep -o 'ActiveMessageCount>[0-9]*' | head -n 1 | cut -d '>' -f 2
}
for ((i = 0; i < 300; i++)); do
    [[ "$(active_messages)" == 0 ]] && break
    sleep 0.1
done
[[ "$(active_messages)" == 0 ]] || fail "the receiver did not empty the queue before the restart"
kill -STOP "$EMULATOR_PID"
kill -CONT "$producer_pid"
for ((i = 0; i < 100; i++)); do
    tail -n 1 "$log" | grep -q '"event":"progress".*"outstanding":[1-9]' && break
    sleep 0.1
done
tail -n 1 "$log" | grep -q '"event":"progress".*"outstanding":[1-9]' ||
    fail "the producer sent nothing to the paused emulator"
kill -KILL "$EMULATOR_PID"
wait "$EMULATOR_PID" 2>/dev/null || true
EMULATOR_PID=""
"$SERVICEBUS_EMULATOR" --config "$WORKLOAD_ROOT/tests/emulators/servicebus/Config.json" \
    --port "$port" --http-port 0 --ready-file "$PRODUCER_TEST_DIR/restarted.ready" \
    >"$PRODUCER_TEST_DIR/restarted.log" 2>&1 &
EMULATOR_PID=$!
for ((i = 0; i < 100; i++)); do
    [[ -s "$PRODUCER_TEST_DIR/restarted.ready" ]] && break
    sleep 0.1
done
[[ -s "$PRODUCER_TEST_DIR/restarted.ready" ]] ||
    fail "the emulator did not restart on port $port: $(cat "$PRODUCER_TEST_DIR/restarted.log")"

# The producer still has most of its 3,000 messages to send at 300/s, so it runs for seconds
# after the reconnect, while /metrics can be read.
health_port="$(sed -n 's/.*health server on 127.0.0.1:\([0-9]*\).*/\1/p' "$log")"
[[ -n "$health_port" ]] || fail "the health server port was not logged"
reconnects=""
for ((i = 0; i < 100; i++)); do
    reconnects="$(curl -s "http://127.0.0.1:$health_port/metrics" |
        sed -n 's/^producer_reconnects_total \([0-9]*\)$/\1/p')"
    [[ "$reconnects" == 1 ]] && break
    sleep 0.1
done
[[ "$reconnects" == 1 ]] || fail "producer_reconnects_total is '$reconnects' after one reconnect"

status=0
wait "$producer_pid" || status=$?
[[ "$status" == 0 ]] || fail "the producer exited $status after the restart: $(tail -3 "$log.stderr")"
grep -q '"event":"disconnected"' "$log" || fail "the producer never saw the connection drop"
grep -q '"event":"connected".*attempt 2' "$log" || fail "the producer did not reconnect"
expect_accepted "$log" 3000

status=0
wait "$receiver_pid" || status=$?
echo "received: $(cat "$received")"
retried="$(summary_field "$log" retried)"
echo "producer retried: $retried"
lost="$(sed -n 's/.*"event":"disconnected".*); \([0-9]*\) unacknowledged messages will be resent.*/\1/p' "$log" |
    head -n 1)"
[[ -n "$lost" ]] || fail "the disconnected line does not count the unacknowledged messages"
((lost > 0)) || fail "no message was in flight when the connection dropped"
((retried > 0)) || fail "the producer resent no message after the restart"
[[ "$status" == 0 ]] || fail "not every COUNT arrived: $(cat "$received") $(tail -3 "$received.stderr")"
