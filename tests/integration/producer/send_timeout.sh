#!/usr/bin/env bash
# --send-timeout is enforced while outcomes keep arriving. The broker (flaky_broker.py) never settles
# the first transfer of COUNT 5 and accepts every other one, while the producer sends 100,000
# messages as fast as the broker takes them, for several seconds. The producer must resend
# COUNT 5 within about a second of its send timeout, while the other messages still flow, not
# after the last one, and end with all 100,000 accepted. Progress output is off, because its
# timer, which does not move, would end the wait on its own.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

flaky_broker_start --accept-first 1000000 --withhold-count 5

log="$PRODUCER_TEST_DIR/producer.log"
run_producer "$log" \
    --connection-string "$BROKER_CONNECTION_STRING" \
    --auth none --queue withheld --count 100000 --inflight 100 --send-timeout 1s --progress off ||
    fail "the producer exited with status $?: $(tail -3 "$log.stderr")"
expect_accepted "$log" 100000
grep -q '"event":"send-retry".*(COUNT 5): no outcome within the send timeout' "$log" ||
    fail "the producer did not log the resend of COUNT 5"

broker_report_wait
# Transfers are listed in the order the broker received them. The broker takes at most a few
# tens of thousands per second, so a resend one to two seconds after the first send comes
# well before the last tenth of the transfers.
/usr/bin/python3 - "$BROKER_REPORT" <<'PY' || fail "COUNT 5 was not resent while the others flowed"
import json, sys
transfers = json.load(open(sys.argv[1]))["transfers"]
positions = [i for i, t in enumerate(transfers) if t[2] == 5]
print(f"COUNT 5 transferred at positions {positions} of {len(transfers)}")
sys.exit(0 if len(positions) == 2 and positions[1] < 0.9 * len(transfers) else 1)
PY

# The latency of a resent message runs from its first transfer. Of 20 messages, COUNT 5 waits the
# 1 s send timeout before its resend is accepted, so the p99 (here the slowest message, within the
# 9 % of the log buckets) is at least 0.9 s. Counted from the resend it would be milliseconds.
rm -f "$PRODUCER_TEST_DIR/broker.port" "$PRODUCER_TEST_DIR/broker-report.json"
flaky_broker_start --accept-first 1000000 --withhold-count 5
log="$PRODUCER_TEST_DIR/latency.log"
run_producer "$log" --connection-string "$BROKER_CONNECTION_STRING" --auth none \
    --queue withheld --count 20 --send-timeout 1s --progress off ||
    fail "the producer exited with status $?: $(tail -3 "$log.stderr")"
expect_accepted "$log" 20
p99="$(summary_field "$log" latency_p99_ms)"
[[ -n "$p99" ]] || fail "the summary has no latency_p99_ms"
/usr/bin/python3 -c "import sys; sys.exit(0 if float('$p99') >= 900 else 1)" ||
    fail "latency p99 $p99 ms: the resent message's latency did not count from its first transfer"
echo "send_timeout: ok (p99 $p99 ms with one message resent after 1 s)"
