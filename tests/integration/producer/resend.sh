#!/usr/bin/env bash
# At-least-once resend against a deliberately unreliable broker (flaky_broker.py). It leaves at
# least 200 transfers of the first connection unsettled and drops the connection. On the second
# connection it does the same to the link with amqp:link:detach-forced, and then it rejects some
# messages once with com.microsoft:server-busy. The producer must resend every unsettled and
# every busy message with its original message-id and COUNT, and end with all 2,000 accepted.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

flaky_broker_start --accept-first 300 --hold 200 --busy-every 97 --detach-after 300

log="$PRODUCER_TEST_DIR/producer.log"
run_producer "$log" \
    --connection-string "$BROKER_CONNECTION_STRING" \
    --auth none --queue flaky --count 2000 --inflight 500 ||
    fail "the producer exited with status $?: $(tail -3 "$log.stderr")"
expect_accepted "$log" 2000
grep -q '"event":"connected".*attempt 2' "$log" || fail "the producer did not reconnect"
grep -q '"event":"sender-detached".*amqp:link:detach-forced' "$log" ||
    fail "the producer did not see the forced detach"
[[ "$(grep -c '"event":"sender-attached"' "$log")" -ge 3 ]] || fail "the sender was not attached again"

for ((i = 0; i < 100; i++)); do
    [[ -s "$BROKER_REPORT" ]] && grep -q '"connections": 2' "$BROKER_REPORT" && break
    sleep 0.1
done
retried="$(summary_field "$log" retried)"
/usr/bin/python3 - "$BROKER_REPORT" "$retried" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
retried = int(sys.argv[2])
accepted = {}
held, busy = [], []
for connection, message_id, count, outcome in report["transfers"]:
    if outcome == "accepted":
        accepted.setdefault(message_id, set()).add(count)
    elif outcome == "held":
        held.append((message_id, count))
    elif outcome == "busy":
        busy.append((message_id, count))
problems = []
# Transfers already in flight when the broker closes are left unsettled too.
if len(held) < 400:
    problems.append(f"{len(held)} transfers were held, expected at least 400")
if not busy:
    problems.append("no transfer was rejected as busy")
for message_id, count in held + busy:
    if accepted.get(message_id) != {count}:
        problems.append(f"{message_id} (COUNT {count}) was not resent and accepted with its id")
counts = {count for ids in accepted.values() for count in ids}
missing = sorted(set(range(1, 2001)) - counts)[:10]
if missing:
    problems.append(f"COUNTs never accepted: {missing}")
if len(accepted) != 2000:
    problems.append(f"{len(accepted)} distinct message-ids accepted, expected 2000")
if retried < len(held) + len(busy):
    problems.append(f"the producer counts {retried} retries, fewer than {len(held) + len(busy)}")
print(json.dumps({"held": len(held), "busy": len(busy), "retried": retried,
                  "problems": problems[:10]}))
sys.exit(1 if problems else 0)
PY
