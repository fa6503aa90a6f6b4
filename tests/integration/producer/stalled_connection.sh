#!/usr/bin/env bash
# A peer that keeps the connection alive but takes no more data: a proxy between the producer
# and the emulator stops reading the producer's bytes after 1 MB on the first connection, while
# the emulator's frames still reach the producer. Once the socket buffers are full, no transfer
# can be written, so the producer must drop the connection after 10 s without progress (the
# floor under a 1 s send timeout), reconnect, and deliver every message exactly once. The
# official SDK then finds each message in the queue once.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

emulator_start "$PRODUCER_TEST_DIR/emulator"
proxy_start "$EMULATOR_CONNECTION_STRING" "$EMULATOR_AMQP_PORT" --stall-after 1048576
log="$PRODUCER_TEST_DIR/producer.log"
# Without the check the run would never end, so it gets a bound of its own.
run_producer_within 60 "$log" --connection-string "$THROUGH_PROXY" --queue test-queue \
    --count 200 --inflight 50 --body-size 262069 --send-timeout 1s
grep -q "stalled after 1048576 bytes" "$PRODUCER_TEST_DIR/proxy.log" ||
    fail "the proxy never stalled the connection: $(cat "$PRODUCER_TEST_DIR/proxy.log")"
[[ "$PRODUCER_STATUS" == 0 ]] || fail "the producer exited $PRODUCER_STATUS: $(tail -n 5 "$log.stderr")"
grep '"event":"disconnected"' "$log" | grep -q 'waited 10000 ms with no outcome' ||
    fail "no disconnected event names the stall: $(grep '"event":"disconnected"' "$log")"
expect_accepted "$log" 200

result="$(node "$PRODUCER_TEST_LIB/receive.js" --connection-string "$EMULATOR_CONNECTION_STRING" \
    --queue test-queue --expect 200 --exact)" || fail "the queue does not hold each message once: $result"
echo "stalled_connection: $(grep '"event":"disconnected"' "$log" | head -n 1)"

# A peer that stalls every connection once its link is attached. Each dropped connection counts
# as a failed attempt, because no outcome ever came on it. So the backoff grows, and the run ends
# at --give-up-after with status 1 and the stall as the reason instead of reconnecting for ever.
proxy_start "$EMULATOR_CONNECTION_STRING" "$EMULATOR_AMQP_PORT" --stall-after 4000 --stall-all
log="$PRODUCER_TEST_DIR/every.log"
run_producer_within 60 "$log" --connection-string "$THROUGH_PROXY" --queue test-queue \
    --count 50 --inflight 50 --body-size 262069 --send-timeout 1s --give-up-after 8s
[[ "$PRODUCER_STATUS" == 1 ]] ||
    fail "against a peer that stalls every connection the producer exited $PRODUCER_STATUS, expected 1"
grep -q 'the peer takes no data' "$log.stderr" ||
    fail "the error does not name the stall: $(cat "$log.stderr")"
grep -q 'gave up after 8000 ms' "$log.stderr" || fail "the error does not name the give-up bound"
echo "stalled_connection: every connection stalled: $(cat "$log.stderr")"

# A connection that worked for seconds before it stalled, with --give-up-after shorter than the
# time it takes to notice a stall. The give-up time runs from the drop, so the producer must
# reconnect and deliver every message rather than give up at the drop.
# At 2 messages a second, the 2 MB before the stall take about 3 s.
proxy_start "$EMULATOR_CONNECTION_STRING" "$EMULATOR_AMQP_PORT" --stall-after 2000000
log="$PRODUCER_TEST_DIR/worked.log"
run_producer_within 90 "$log" --connection-string "$THROUGH_PROXY" --queue test-queue \
    --count 16 --rate 2 --inflight 50 --body-size 262069 --send-timeout 1s --give-up-after 5s
[[ "$PRODUCER_STATUS" == 0 ]] ||
    fail "after a stall the producer exited $PRODUCER_STATUS: $(tail -n 3 "$log.stderr")"
grep -q '"event":"disconnected".*the peer takes no data' "$log" || fail "the stall was not detected"
expect_accepted "$log" 16

# Messages that all fit in the socket buffers, so that every transfer is framed and none can
# show the stall by staying unframed. Their send timeouts come while no outcome comes on the
# connection at all, so they do not use up --max-retries 0: each is resent once, the connection
# is dropped as stalled, and every message is accepted on the next one.
proxy_start "$EMULATOR_CONNECTION_STRING" "$EMULATOR_AMQP_PORT" --stall-after 20000
log="$PRODUCER_TEST_DIR/framed.log"
run_producer_within 60 "$log" --connection-string "$THROUGH_PROXY" --queue test-queue \
    --count 1000 --inflight 1000 --send-timeout 1s --max-retries 0
[[ "$PRODUCER_STATUS" == 0 ]] ||
    fail "with every transfer framed the producer exited $PRODUCER_STATUS: $(tail -n 3 "$log.stderr")"
grep -q '"event":"disconnected".*the peer takes no data' "$log" || fail "the stall was not detected"
expect_accepted "$log" 1000
echo "stalled_connection: every transfer framed: $(grep '"event":"disconnected"' "$log" | head -n 1)"
