#!/usr/bin/env bash
# An idle consumer reads the container after --cosmos-idle-check (2 s here) without a request.
# Servers close idle connections, and one may reset a kept-alive connection in the middle of that
# read's response. The read then goes out again on a new connection and the consumer stays ready,
# because a lost idle connection is not an outage. The stand-in resets every read on a connection
# that served a request before, after the start of the response, so that curl does not send the
# read again by itself.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

test_dir="$(mktemp -d)"
trap cleanup EXIT
emulator_start "$test_dir/emulator" || fail "the Service Bus emulator did not start"
stalled_cosmos_start --mode reset-reads

start_consumer orders "$test_dir/consumer.log" "${STAND_IN_OPTIONS[@]}" --log-level debug \
    --cosmos-idle-check 2s
wait_until 30 consumer_ready || fail "the consumer never became ready"

# The first idle read reuses the start-up check's connection, and each later one the connection
# of the read before it, so every idle read meets a reset first.
resets() { grep -c '^reset read$' "$test_dir/sink.requests" || true; }
two_resets() { (($(resets) >= 2)); }
wait_until 40 two_resets || fail "the stand-in reset $(resets) idle reads in 40 s, expected 2"
answered() { (($(grep -c '^200 read$' "$test_dir/sink.requests" || true) >= 2)); }
wait_until 10 answered || fail "no read went out again after a reset: $(cat "$test_dir/sink.requests")"

retries="$(grep -c '"event":"cosmos-connection-lost"' "$test_dir/consumer.log" || true)"
((retries >= 2)) || fail "the consumer logged $retries lost idle connections, expected at least 2"
if grep -q '"event":"cosmos-not-ready"' "$test_dir/consumer.log"; then
    fail "a reset idle connection made the consumer not ready: $(grep -m 1 '"event":"cosmos-not-ready"' "$test_dir/consumer.log")"
fi
consumer_ready || fail "the consumer is not ready after the resets"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
echo "idle_reset: ok"
