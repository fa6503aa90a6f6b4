#!/usr/bin/env bash
# A producer whose event loop stops (here epoll_wait blocks, through tests/lib/freeze_epoll.c)
# fails /healthz with "stalled" and /readyz with the component "loop" once the loop has not run
# for 15 s, and `producer --check` exits 1. When the loop runs again both return 200, sending
# goes on, and a SIGTERM still ends the run with every sent message acknowledged.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${FREEZE_LIBRARY:?set FREEZE_LIBRARY to the freeze_epoll library}"
# shellcheck source=../../lib/loop_stall.sh
source "$WORKLOAD_ROOT/tests/lib/loop_stall.sh"

emulator_start "$PRODUCER_TEST_DIR/emulator"

log="$PRODUCER_TEST_DIR/producer.log"
export WL_FREEZE_FILE="$PRODUCER_TEST_DIR/freeze"
LD_PRELOAD="$FREEZE_LIBRARY" start_open_ended_producer "$log" 50 \
    --health-port 0 --health-bind 127.0.0.1
health_port="$(sed -n 's/.*health server on 127.0.0.1:\([0-9]*\).*/\1/p' "$log")"
[[ -n "$health_port" ]] || fail "the health server port was not logged"
url="http://127.0.0.1:$health_port"
ready() { curl -s "$url/readyz" | grep -q '"status":"ready"'; }
accepted_now() { sed -n 's/.*"event":"progress".*"accepted":\([0-9]*\).*/\1/p' "$log" | tail -1; }

wait_until 30 ready || fail "/readyz did not report ready: $(curl -s "$url/readyz")"
expect_loop_stall "$url" "$WL_FREEZE_FILE" "$PRODUCER_BIN" --check --health-port "$health_port"
wait_until 30 ready || fail "/readyz did not recover: $(curl -s "$url/readyz")"
before="$(accepted_now)"
more() { (($(accepted_now) > before + 20)); }
wait_until 30 more || fail "sending did not go on after the stall (accepted $(accepted_now))"

kill -TERM "$PRODUCER_PID"
status=0
wait "$PRODUCER_PID" || status=$?
[[ "$status" == 0 ]] || fail "the producer exited $status after SIGTERM: $(tail -3 "$log.stderr")"
[[ "$(summary_field "$log" unacknowledged)" == 0 ]] || fail "messages were left unacknowledged"
accepted="$(summary_field "$log" accepted)"
result="$(node "$PRODUCER_TEST_LIB/receive.js" --connection-string "$EMULATOR_CONNECTION_STRING" \
    --queue test-queue --expect "$accepted" --exact)" || fail "the Node SDK receiver: $result"
echo "loop_stall: ok, accepted $accepted; received: $result"
