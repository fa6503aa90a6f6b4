#!/usr/bin/env bash
# An acceptance that arrives after the producer resent a message still counts. The broker
# (flaky_broker.py) leaves the first transfer of COUNT 3 unsettled past --send-timeout, accepts
# it only when the resend arrives, and never settles the resend. With --max-retries 1 the resend
# is the last try, so a producer that ignored the late acceptance would count COUNT 3 as failed
# once the resend timed out, and exit 1.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

flaky_broker_start --accept-first 1000000 --late-accept-count 3

log="$PRODUCER_TEST_DIR/producer.log"
run_producer "$log" \
    --connection-string "$BROKER_CONNECTION_STRING" \
    --auth none --queue late --count 20 --send-timeout 1s --max-retries 1 --progress off ||
    fail "the producer exited with status $?: $(tail -3 "$log.stderr")"
expect_accepted "$log" 20
grep -q '"event":"send-retry".*(COUNT 3): no outcome within the send timeout' "$log" ||
    fail "the producer did not resend COUNT 3 after its send timeout"

broker_report_wait
/usr/bin/python3 - "$BROKER_REPORT" <<'PY' || fail "the broker did not accept COUNT 3 late"
import json, sys
transfers = json.load(open(sys.argv[1]))["transfers"]
outcomes = [t[3] for t in transfers if t[2] == 3]
print(f"COUNT 3 transfers: {outcomes}")
sys.exit(0 if outcomes == ["accepted late", "withheld"] else 1)
PY
echo "late_accept: ok"
