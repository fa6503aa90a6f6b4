#!/usr/bin/env bash
# A link slower than the producer: a proxy forwards the producer's bytes to the emulator at
# 4 MB/s. A window of 60 messages of 256 KiB is about 4 s of data, twice the 2 s send
# timeout. Proton frames every transfer at once into an output buffer that only the socket
# drains, so a send timeout that ran from the transfer would resend about every message and
# queue a second copy behind the first. A transfer that is still waiting to be written must not
# time out, and a connection whose bytes keep moving must not be dropped as stalled.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# expect_late_acceptances_match LOG COUNT: receives the COUNT messages from test-queue with the
# Node SDK and counts the copies beyond the first of each message. Each comes from a transfer
# of a message that had finished through another one. The producer counts such a transfer in
# late_accepted once its acceptance arrives, and in late_open while it has no outcome at the
# end, so the copies must lie between late_accepted and their sum.
expect_late_acceptances_match() {
    local log="$1" count="$2" result copies late open
    result="$(node "$PRODUCER_TEST_LIB/receive.js" --connection-string "$EMULATOR_CONNECTION_STRING" \
        --queue test-queue --expect "$count" --exact --allow-duplicates)" ||
        fail "the queue does not contain every message: $result"
    copies="$(sed -n 's/.*"duplicate_counts":\([0-9]*\).*/\1/p' <<<"$result")"
    late="$(summary_field "$log" late_accepted)"
    open="$(summary_field "$log" late_open)"
    [[ -n "$copies" && -n "$late" && -n "$open" ]] ||
        fail "no duplicate count ($result), late_accepted or late_open"
    ((late <= copies)) ||
        fail "the producer counted $late late acceptances, but the queue holds $copies second copies"
    ((copies <= late + open)) ||
        fail "the queue contains $copies second copies, more than $late late acceptances and $open open transfers"
    if ((late > 0)); then
        grep -q '"event":"late-acceptance"' "$log" || fail "no late-acceptance warning was logged"
    fi
    if ((open > 0)); then
        grep -q '"event":"late-open"' "$log" || fail "no late-open warning was logged"
    fi
    echo "slow_link: $late late acceptances, $open open at the end, $copies second copies in the queue"
}

# send_at_200kbs SECONDS LOG COUNT: sends COUNT messages of 256 KiB, all in flight at once,
# through a proxy at 200 kB/s (1.3 s each) with a 500 ms send timeout. Fails unless the run ends
# within SECONDS with status 0 and every message accepted.
send_at_200kbs() {
    local seconds="$1" log="$2" count="$3"
    proxy_start "$EMULATOR_CONNECTION_STRING" "$EMULATOR_AMQP_PORT" --client-rate 200000
    run_producer_within "$seconds" "$log" --connection-string "$THROUGH_PROXY" \
        --queue test-queue --count "$count" --inflight "$count" --body-size 262069 \
        --send-timeout 500ms
    [[ "$PRODUCER_STATUS" == 0 ]] ||
        fail "the producer exited $PRODUCER_STATUS: $(tail -n 5 "$log.stderr")"
    expect_accepted "$log" "$count"
}

emulator_start "$PRODUCER_TEST_DIR/emulator"
proxy_start "$EMULATOR_CONNECTION_STRING" "$EMULATOR_AMQP_PORT" --client-rate 4000000
log="$PRODUCER_TEST_DIR/producer.log"
run_producer "$log" --connection-string "$THROUGH_PROXY" --queue test-queue --count 120 \
    --inflight 60 --body-size 262069 --send-timeout 2s ||
    fail "the producer failed: $(tail -n 5 "$log.stderr")"
expect_accepted "$log" 120
expect_no_disconnect "$log"
# Transfers in the kernel's socket buffers (about 1 s of data at this rate) may still time out
# when the machine is slow. The failure this test looks for is a resend of every message.
retried="$(summary_field "$log" retried)"
((retried <= 12)) || fail "$retried of 120 messages were resent while waiting to be written"

expect_late_acceptances_match "$log" 120
echo "slow_link: $retried of 120 messages resent"

# A link so slow that one message takes longer to send than the send timeout (256 KiB at
# 200 kB/s is 1.3 s, against 500 ms). No outcome comes within a send timeout, but the bytes keep
# moving, so the connection must not be dropped as stalled: dropping it would start every
# message over, and none would ever finish. Resends are expected here.
log="$PRODUCER_TEST_DIR/slower.log"
send_at_200kbs 60 "$log" 3
expect_no_disconnect "$log"
expect_late_acceptances_match "$log" 3
echo "slow_link: 3 messages at 1.3 s each with a 500 ms send timeout, $(summary_field "$log" retried) resent"

# Every message resent while its first transfer is on its way, and accepted through that first
# transfer (256 KiB at 200 kB/s is 1.3 s, against 500 ms). The run ends once all six are
# accepted, while resent copies may still be on their way, and their outcomes never arrive.
log="$PRODUCER_TEST_DIR/copies.log"
send_at_200kbs 120 "$log" 6
# The proxy forwards the bytes it still has after the producer has closed.
sleep 5
expect_late_acceptances_match "$log" 6

# A peer with no frame size limit, behind a slow link, that never settles the first transfer of
# COUNT 5. Proton's output buffer then grows past 64 KiB while the socket drains it slowly. Message
# 5 is resent once a later transfer has its outcome, and every message must be accepted on the
# first connection.
flaky_broker_start --accept-first 1000000 --withhold-count 5
broker_port="$(sed -n 's/.*amqp:\/\/127.0.0.1:\([0-9]*\);.*/\1/p' <<<"$BROKER_CONNECTION_STRING")"
proxy_start "$BROKER_CONNECTION_STRING" "$broker_port" --client-rate 300000
log="$PRODUCER_TEST_DIR/unlimited.log"
run_producer "$log" --auth none --queue q --count 40 --inflight 40 --body-size 65536 \
    --send-timeout 1s --connection-string "$THROUGH_PROXY" ||
    fail "the producer failed behind a slow link to the broker: $(tail -n 5 "$log.stderr")"
expect_accepted "$log" 40
expect_no_disconnect "$log"
echo "slow_link: 40 messages to a broker without a frame size limit, $(summary_field "$log" retried) resent"
