#!/usr/bin/env bash
# SIGTERM while the workload identity token request hangs. The token endpoint is a loopback
# listener that accepts connections and never responds, so the request with its retries would
# take about 40 s. The health server must serve /healthz meanwhile, and SIGTERM must end the
# producer within a few seconds with status 1 and a stopping-now line.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port_holder_start "$PRODUCER_TEST_DIR"
PRODUCER_TEST_PIDS+=("$PORT_HOLDER_PID")
echo "eyJhbGciOiJSUzI1NiJ9.service-account-token.sig" >"$PRODUCER_TEST_DIR/token"
health_port="$(free_port)"

log="$PRODUCER_TEST_DIR/producer.log"
AZURE_AUTHORITY_HOST="http://127.0.0.1:$PORT_HOLDER_PORT/" AZURE_TENANT_ID=tenant-0001 \
    AZURE_CLIENT_ID=client-0001 AZURE_FEDERATED_TOKEN_FILE="$PRODUCER_TEST_DIR/token" \
    "$PRODUCER_BIN" --namespace localhost:1 --queue test-queue --count 1 \
    --health-port "$health_port" --health-bind 127.0.0.1 --progress json \
    >"$log" 2>"$log.stderr" &
producer_pid=$!
PRODUCER_TEST_PIDS+=("$producer_pid")

listening() { grep -q '"event":"health-listening"' "$log"; }
wait_until 5 listening || fail "the health server did not start"
sleep 1
url="http://127.0.0.1:$health_port/healthz"
health="$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$url" || true)"
[[ "$health" == 200 ]] || fail "/healthz returned '$health' during the token request, expected 200"
if grep -q '"event":"token-acquired"' "$log"; then
    fail "the token endpoint responded, so the test proves nothing"
fi

started="$(date +%s%N)"
kill -TERM "$producer_pid"
status=0
wait "$producer_pid" || status=$?
elapsed_ms=$((($(date +%s%N) - started) / 1000000))

[[ "$status" == 1 ]] ||
    fail "the producer exited $status after SIGTERM, expected 1: $(cat "$log.stderr")"
((elapsed_ms < 3000)) ||
    fail "the producer took $elapsed_ms ms to stop after SIGTERM, expected < 3000"
grep -q '"event":"stopping-now"' "$log" || fail "no stopping-now line: $(tail -3 "$log")"
grep -q 'stopped by a signal before connecting' "$log.stderr" ||
    fail "stderr does not give the reason the producer stopped: $(cat "$log.stderr")"
echo "stopped $elapsed_ms ms after SIGTERM"
