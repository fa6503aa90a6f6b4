#!/usr/bin/env bash
# Final send failures are logged even after retries have had their share of log lines. The
# broker (flaky_broker.py) rejects every transfer of each tenth message with
# com.microsoft:server-busy, so with --max-retries 1 each of those 30 messages is retried once
# and then fails. The first retries must not use up the log lines of the failures.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port_file="$PRODUCER_TEST_DIR/broker.port"
report="$PRODUCER_TEST_DIR/broker-report.json"
/usr/bin/python3 "$PRODUCER_TEST_LIB/flaky_broker.py" --port-file "$port_file" --report "$report" \
    --accept-first 1000000 --always-busy-every 10 >"$PRODUCER_TEST_DIR/broker.log" 2>&1 &
PRODUCER_TEST_PIDS+=("$!")
for ((i = 0; i < 100; i++)); do
    [[ -s "$port_file" ]] && break
    sleep 0.1
done
[[ -s "$port_file" ]] || fail "the broker did not start: $(cat "$PRODUCER_TEST_DIR/broker.log")"

log="$PRODUCER_TEST_DIR/producer.log"
status=0
run_producer "$log" \
    --connection-string "Endpoint=amqp://127.0.0.1:$(cat "$port_file");SharedAccessKeyName=unused;SharedAccessKey=unused" \
    --auth none --queue busy --count 300 --max-retries 1 || status=$?
[[ "$status" == 1 ]] || fail "the producer exited $status, expected 1 with 30 messages failed"
[[ "$(summary_field "$log" rejected)" == 30 ]] ||
    fail "the summary counts $(summary_field "$log" rejected) failed messages, expected 30"
retries="$(grep -c '"event":"send-retry"' "$log")"
failures="$(grep -c '"event":"send-failed"' "$log")"
[[ "$retries" == 10 ]] || fail "$retries send-retry lines, expected the first 10"
[[ "$failures" == 10 ]] || fail "$failures send-failed lines, expected the first 10"
echo "failure_logs: $retries retries and $failures failures logged"
