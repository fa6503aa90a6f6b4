#!/usr/bin/env bash
# --rate is kept after a time without a connection. The producer starts against a port where
# nothing listens yet, with 150 messages at 50/s, and the emulator starts on that port about
# 2 s later. Once the sender is attached the messages must still go out at about 50/s, taking
# about 3 s, not as a burst of the ones that were due while the producer was connecting.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port="$(free_port)"
log="$PRODUCER_TEST_DIR/producer.log"
"$PRODUCER_BIN" --connection-string \
    "Endpoint=sb://127.0.0.1:$port;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true" \
    --queue test-queue --count 150 --rate 50 --progress off >"$log" 2>"$log.stderr" &
producer_pid=$!
PRODUCER_TEST_PIDS+=("$producer_pid")

sleep 2
"$SERVICEBUS_EMULATOR" --config "$WORKLOAD_ROOT/tests/emulators/servicebus/Config.json" \
    --port "$port" --http-port 0 --ready-file "$PRODUCER_TEST_DIR/emulator.ready" \
    >"$PRODUCER_TEST_DIR/emulator.log" 2>&1 &
PRODUCER_TEST_PIDS+=("$!")

status=0
wait "$producer_pid" || status=$?
[[ "$status" == 0 ]] || fail "the producer exited $status: $(tail -3 "$log")"
expect_accepted "$log" 150

# From the attach to the summary, 150 messages at 50/s take about 3 s; a burst takes 1 s or
# less. The bound is loose, because a slow machine only makes the run longer.
/usr/bin/python3 - "$log" <<'PY' || fail "the producer sent the backlog in a burst"
import datetime, json, sys
times = {}
for line in open(sys.argv[1]):
    entry = json.loads(line) if line.startswith("{") else {}
    if entry.get("event") in ("sender-attached", "summary"):
        times.setdefault(entry["event"], datetime.datetime.fromisoformat(
            entry["time"].replace("Z", "+00:00")))
seconds = (times["summary"] - times["sender-attached"]).total_seconds()
print(f"150 messages at 50/s took {seconds:.2f} s after the attach")
sys.exit(0 if seconds >= 2.5 else 1)
PY
echo "rate_after_outage: ok"
