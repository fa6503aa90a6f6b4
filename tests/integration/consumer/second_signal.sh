#!/usr/bin/env bash
# A second signal ends the shutdown grace period at once, also when it arrives microseconds
# after the first. Proton coalesces interrupts, so two signals sent back to back can reach the
# event loop as one interrupt. The Cosmos stand-in never responds to a document write, so
# only the second signal can end the wait before the 120 s grace period. In each of 3 rounds
# the consumer must log shutdown-now and exit 0 well before the grace period ends. A copy of the
# first signal that arrives with it is not a second signal (the rounds under timeout below).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

queue="second-signal"
test_dir="$(mktemp -d)"
trap cleanup EXIT

write_queue_config "$test_dir/Config.json" PT5M 10 "$queue"
export EMULATOR_CONFIG="$test_dir/Config.json"
emulator_start "$test_dir/emulator" || fail "the Service Bus emulator did not start"

stalled_cosmos_start

node "$here/delivery_counts.js" send "$queue" 3 || fail "sending 3 messages failed"

for round in 1 2 3; do
    : >"$test_dir/sink.requests"
    log="$test_dir/consumer-$round.log"
    start_consumer "$queue" "$log" \
        "${STAND_IN_OPTIONS[@]}" \
        --concurrency 1 --prefetch 0 --cosmos-timeout 300s --message-deadline 10m \
        --shutdown-grace 120s
    write_started() { [[ "$(wc -l <"$test_dir/sink.requests")" -ge 1 ]]; }
    wait_until 60 write_started || fail "round $round: the consumer started no Cosmos write"

    # Both signals are sent before the consumer can handle the first. The limit is far below the
    # grace period and far above the consumer's own bounds after it (2 s and 3 s).
    kill -TERM "$CONSUMER_PID"
    kill -INT "$CONSUMER_PID"
    wait_until 60 consumer_exited || fail "round $round: the consumer still runs 60 s after two signals"
    status=0
    wait "$CONSUMER_PID" || status=$?
    CONSUMER_PID=""
    [[ "$status" == 0 ]] || fail "round $round: the consumer exited with $status"
    grep -q '"event":"shutdown-now"' "$log" ||
        fail "round $round: the second signal did not end the grace period"
done

# The same signal twice is one request when the copies come together: coreutils timeout sends
# SIGTERM to the consumer and then to its process group. The grace period (3 s) must run out,
# with no shutdown-now, and the unfinished write is abandoned.
for round in 1 2 3; do
    : >"$test_dir/sink.requests"
    log="$test_dir/consumer-timeout-$round.log"
    SERVICEBUS_CONNECTION_STRING="$EMULATOR_CONNECTION_STRING" SERVICEBUS_QUEUE="$queue" \
        HEALTH_PORT=-1 timeout --preserve-status -s TERM 3 "$CONSUMER_BIN" \
        "${STAND_IN_OPTIONS[@]}" \
        --concurrency 1 --prefetch 0 --cosmos-timeout 300s --message-deadline 10m \
        --shutdown-grace 3s >"$log" 2>&1 &
    timeout_pid=$!
    wait_until 60 write_started || fail "timeout round $round: the consumer started no Cosmos write"
    status=0
    wait "$timeout_pid" || status=$?
    [[ "$status" == 0 ]] || fail "timeout round $round: the consumer exited with $status"
    grep -q '"event":"shutdown"' "$log" || fail "timeout round $round: no shutdown was logged"
    if grep -q '"event":"shutdown-now"' "$log"; then
        fail "timeout round $round: the copy of SIGTERM sent to the process group ended the grace period"
    fi
    grep -q '"event":"message-abandoned"' "$log" ||
        fail "timeout round $round: the unfinished write was not abandoned after the grace period"
done
echo "second_signal: ok"
