#!/usr/bin/env bash
# A peer that accepts TCP connections but never replies (a stalled or blackholed endpoint): each
# attempt must end at --connect-timeout, and the run must end with status 1 and a "timed out"
# message once --give-up-after has passed. A refused port ends the same way, and its retried
# refusals are not logged at error.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port_file="$PRODUCER_TEST_DIR/stalled.port"
/usr/bin/python3 - "$port_file" <<'PY' &
import os, socket, sys
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(16)
with open(sys.argv[1] + ".tmp", "w") as port_file:
    port_file.write(str(listener.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
while True:
    connection, _ = listener.accept()
    held.append(connection)  # never read, never reply
PY
PRODUCER_TEST_PIDS+=("$!")
for ((i = 0; i < 100; i++)); do
    [[ -s "$port_file" ]] && break
    sleep 0.1
done
[[ -s "$port_file" ]] || fail "the stalled peer did not start"
port="$(cat "$port_file")"

log="$PRODUCER_TEST_DIR/stalled.log"
status=0
run_producer "$log" --connection-string "Endpoint=sb://localhost:$port;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true" \
    --queue q --count 10 --connect-timeout 1s --give-up-after 3s || status=$?
[[ "$status" == 1 ]] || fail "against a stalled peer the producer exited $status, expected 1"
grep -q "connecting to localhost:$port timed out after 1000 ms" "$log.stderr" ||
    fail "the error does not say that connecting timed out: $(cat "$log.stderr")"
grep -q 'gave up after 3000 ms' "$log.stderr" || fail "the error does not name the give-up bound"

# A port with no listener: refused at once, retried with backoff, then given up.
refused_port="$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
status=0
run_producer "$PRODUCER_TEST_DIR/refused.log" \
    --connection-string "Endpoint=sb://localhost:$refused_port;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true" \
    --queue q --count 10 --give-up-after 2s || status=$?
[[ "$status" == 1 ]] || fail "against a refused port the producer exited $status, expected 1"
grep -qi 'refused' "$PRODUCER_TEST_DIR/refused.log.stderr" ||
    fail "the error does not say the connection was refused: $(cat "$PRODUCER_TEST_DIR/refused.log.stderr")"
# Each refusal is reported once, by the warn line of the retry or by the final error. Proton's
# own line about the same failure is logged only at debug.
grep -q '"event":"connect-failed"' "$PRODUCER_TEST_DIR/refused.log" ||
    fail "no refusal was reported as a failed attempt"
if grep -q '"event":"disconnected"' "$PRODUCER_TEST_DIR/refused.log"; then
    fail "a refused attempt was logged as a lost connection"
fi
if grep -q '"level":"error","service":"producer","event":"proton"' "$PRODUCER_TEST_DIR/refused.log"; then
    fail "a retried refusal was also logged at error by Proton: $(grep '"event":"proton"' "$PRODUCER_TEST_DIR/refused.log" | head -n 1)"
fi
echo "stalled: $(cat "$log.stderr")"
