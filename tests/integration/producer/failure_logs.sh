#!/usr/bin/env bash
# Final send failures are logged even after retries have had their share of log lines. The
# broker (flaky_broker.py) rejects every transfer of each tenth message with
# com.microsoft:server-busy, so with --max-retries 1 each of those 30 messages is retried once
# and then fails. The first retries must not use up the log lines of the failures.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

flaky_broker_start --accept-first 1000000 --always-busy-every 10

log="$PRODUCER_TEST_DIR/producer.log"
status=0
run_producer "$log" \
    --connection-string "$BROKER_CONNECTION_STRING" \
    --auth none --queue busy --count 300 --max-retries 1 || status=$?
[[ "$status" == 1 ]] || fail "the producer exited $status, expected 1 with 30 messages failed"
[[ "$(summary_field "$log" rejected)" == 30 ]] ||
    fail "the summary counts $(summary_field "$log" rejected) failed messages, expected 30"
retries="$(grep -c '"event":"send-retry"' "$log")"
failures="$(grep -c '"event":"send-failed"' "$log")"
[[ "$retries" == 10 ]] || fail "$retries send-retry lines, expected the first 10"
[[ "$failures" == 10 ]] || fail "$failures send-failed lines, expected the first 10"
echo "failure_logs: $retries retries and $failures failures logged"
