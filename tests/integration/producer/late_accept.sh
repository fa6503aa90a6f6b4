#!/usr/bin/env bash
# An acceptance that arrives after the producer resent a message still counts, once. The broker
# (flaky_broker.py) leaves the first transfer of COUNT 3 unsettled past --send-timeout and
# accepts it only when the resend arrives. Each case finds COUNT 3 in another state then:
#
# - in flight: the broker never settles the resend. With --max-retries 1 the resend is the last
#   try, so a producer that ignored the late acceptance would count COUNT 3 as failed once the
#   resend timed out, and exit 1.
# - out of retries: the broker rejects the resend with server-busy just before accepting the
#   first transfer. With --max-retries 1 COUNT 3 has no retry left, yet must not fail while the
#   first transfer can still be accepted.
# - waiting: the same with --max-retries 3, so COUNT 3 waits for its next resend (at least 100 ms
#   away, by the equal jitter of resends), which must then not be sent at all.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# late_accept_case NAME MAX_RETRIES EXPECTED BROKER_OPTION...: EXPECTED is the Python list of
# the broker's outcomes for the transfers of COUNT 3, in order.
late_accept_case() {
    local name="$1" max_retries="$2" expected="$3"
    shift 3
    rm -f "$PRODUCER_TEST_DIR/broker.port" "$PRODUCER_TEST_DIR/broker-report.json"
    flaky_broker_start --accept-first 1000000 --late-accept-count 3 "$@"

    local log="$PRODUCER_TEST_DIR/$name.log"
    run_producer "$log" \
        --connection-string "$BROKER_CONNECTION_STRING" --auth none --queue late --count 20 \
        --send-timeout 1s --max-retries "$max_retries" --progress off ||
        fail "$name: the producer exited with status $?: $(tail -3 "$log.stderr")"
    expect_accepted "$log" 20
    grep -q '"event":"send-retry".*(COUNT 3): no outcome within the send timeout' "$log" ||
        fail "$name: the producer did not resend COUNT 3 after its send timeout"

    broker_report_wait
    /usr/bin/python3 - "$BROKER_REPORT" "$expected" <<'PY' ||
import ast, json, sys
transfers = json.load(open(sys.argv[1]))["transfers"]
expected = ast.literal_eval(sys.argv[2])
outcomes = [t[3] for t in transfers if t[2] == 3]
print(f"COUNT 3 transfers: {outcomes}")
sys.exit(0 if outcomes == expected else 1)
PY
        fail "$name: the broker's outcomes for COUNT 3 are not $expected"
}

late_accept_case in-flight 1 '["accepted late", "withheld"]'
late_accept_case out-of-retries 1 '["accepted late", "busy"]' --late-accept-busy
late_accept_case waiting 3 '["accepted late", "busy"]' --late-accept-busy

# Without an acceptance: the first transfer of COUNT 3 is never settled, and every transfer of
# COUNT 3, 6, ... 18 after that is rejected as busy. Out of retries, COUNT 3 waits one more send
# timeout for its first transfer and then fails like the other five, and the run exits 1.
rm -f "$PRODUCER_TEST_DIR/broker.port" "$PRODUCER_TEST_DIR/broker-report.json"
flaky_broker_start --accept-first 1000000 --withhold-count 3 --always-busy-every 3
log="$PRODUCER_TEST_DIR/never.log"
status=0
run_producer "$log" --connection-string "$BROKER_CONNECTION_STRING" --auth none --queue late \
    --count 20 --send-timeout 1s --max-retries 1 --progress off || status=$?
[[ "$status" == 1 ]] || fail "never: the producer exited $status, expected 1"
[[ "$(summary_field "$log" accepted)" == 14 ]] ||
    fail "never: $(summary_field "$log" accepted) accepted, expected 14"
[[ "$(summary_field "$log" rejected)" == 6 ]] ||
    fail "never: $(summary_field "$log" rejected) rejected, expected 6"
grep -q '"event":"send-failed".*(COUNT 3): out of retries, and no earlier transfer was accepted within the send timeout' "$log" ||
    fail "never: the failure of COUNT 3 does not say that no earlier transfer was accepted"
echo "late_accept: ok"
