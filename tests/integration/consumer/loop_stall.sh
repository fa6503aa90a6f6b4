#!/usr/bin/env bash
# A consumer whose event loop stops (here epoll_wait blocks, through tests/lib/freeze_epoll.c)
# fails /healthz with "stalled" and /readyz with the component "loop" once the loop has not run
# for 15 s, so Kubernetes restarts it, and `consumer --check` exits 1. When the loop runs again
# both return 200 and the consumer drains the queue as before.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${FREEZE_LIBRARY:?set FREEZE_LIBRARY to the freeze_epoll library}"
# shellcheck source=../../lib/loop_stall.sh
source "$root/tests/lib/loop_stall.sh"
consumer_test_setup

export WL_FREEZE_FILE="$test_dir/freeze"
LD_PRELOAD="$FREEZE_LIBRARY" start_consumer orders "$test_dir/consumer.log"
wait_until 60 consumer_ready || fail "the consumer did not become ready"

expect_loop_stall "http://127.0.0.1:$CONSUMER_HEALTH_PORT" "$WL_FREEZE_FILE" \
    "$CONSUMER_BIN" --check --health-port "$CONSUMER_HEALTH_PORT"
wait_until 10 consumer_ready || fail "/readyz did not recover: $(loop_health readyz)"
seed orders 20 "$test_dir/expected.json"
wait_until 60 queue_drained orders 6 || fail "the consumer did not drain the queue after the stall"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS"
check_end_state orders "$test_dir/expected.json"
echo "loop_stall: ok"
