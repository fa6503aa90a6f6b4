#!/usr/bin/env bash
# Error text from Cosmos DB reaches the consumer's JSON log lines and the dead-letter
# descriptions, which must both be UTF-8. The stand-in rejects every upsert with 400, half of
# them with a long message of two-byte characters that the excerpts cut, and half with a Latin-1
# page and activity id, whose bytes are not UTF-8. Every log line must decode as strict UTF-8 and
# parse as JSON, and every description read back with @azure/service-bus must contain whole
# characters only. Then a stand-in rejects the upserts with 403 and the long message, and the
# not-ready reason that the consumer logs must hold whole characters too.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

queue="foreign-text"
total=6
test_dir="$(mktemp -d)"
trap cleanup EXIT

write_queue_config "$test_dir/Config.json" PT5M 10 "$queue"
export EMULATOR_CONFIG="$test_dir/Config.json"
emulator_start "$test_dir/emulator" || fail "the Service Bus emulator did not start"
stalled_cosmos_start --mode reject-text

node "$here/delivery_counts.js" send "$queue" "$total" || fail "sending $total messages failed"

start_consumer "$queue" "$test_dir/consumer.log" \
    "${STAND_IN_OPTIONS[@]}" \
    --concurrency 2 --prefetch 0

all_dead_lettered() {
    [[ "$(metric consumer_messages_dead_lettered_total 2>/dev/null)" == "$total" ]]
}
wait_until 60 all_dead_lettered || fail "the consumer did not dead-letter all $total messages"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"

rejected="$(grep -c '^400 ' "$test_dir/sink.requests" || true)"
[[ "$rejected" == "$total" ]] || fail "the stand-in rejected $rejected upserts, expected $total"

/usr/bin/python3 - "$test_dir/consumer.log" <<'EOF' || fail "the consumer wrote a log line that is not UTF-8 JSON"
import json
import sys

dead_lettered = 0
with open(sys.argv[1], "rb") as log:
    for number, line in enumerate(log, 1):
        try:
            record = json.loads(line.decode("utf-8", errors="strict"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            sys.exit(f"line {number}: {error}: {line[:300]!r}")
        if record.get("event") == "message-dead-lettered":
            dead_lettered += 1
if dead_lettered == 0:
    sys.exit("no message-dead-lettered line in the log")
print(f"every log line is UTF-8 JSON, {dead_lettered} of them message-dead-lettered")
EOF

# The Node SDK decodes an AMQP string leniently, so a character cut in two shows as U+FFFD.
# The excerpt of the JSON error must end with a whole "é". Each byte of the Latin-1 page that
# is not UTF-8 must show as one U+FFFD, which the consumer put in its place.
node - "$queue" >"$test_dir/descriptions.json" <<'EOF' || fail "peeking the dead-letter subqueue failed"
const { ServiceBusClient } = require("@azure/service-bus");
(async () => {
  const client = new ServiceBusClient(process.env.EMULATOR_CONNECTION_STRING);
  const receiver = client.createReceiver(process.argv[2], { subQueueType: "deadLetter" });
  const descriptions = [];
  for (;;) {
    const batch = await receiver.peekMessages(100);
    if (batch.length === 0) break;
    for (const message of batch) descriptions.push(message.deadLetterErrorDescription || "");
  }
  await receiver.close();
  await client.close();
  process.stdout.write(JSON.stringify(descriptions));
})().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
EOF

/usr/bin/python3 - "$test_dir/descriptions.json" "$total" <<'EOF' || fail "a dead-letter description is wrong"
import json
import sys

descriptions = json.load(open(sys.argv[1], encoding="utf-8"))
total = int(sys.argv[2])
if len(descriptions) != total:
    sys.exit(f"{len(descriptions)} dead-lettered messages, expected {total}")
cut = [d for d in descriptions if "x\u00e9" in d]
latin1 = [d for d in descriptions if "Requ" in d]
if len(cut) != total // 2 or len(latin1) != total // 2:
    sys.exit(f"expected {total // 2} descriptions of each kind: {descriptions!r}")
for description in cut:
    if "\ufffd" in description:
        sys.exit(f"a character was cut in two: {description!r}")
    if not description.split(" (activity id")[0].endswith("\u00e9"):
        sys.exit(f"the excerpt does not end with a whole character: {description!r}")
for description in latin1:
    if "Requ\ufffdte invalide \ufffd\ufffd" not in description:
        sys.exit(f"the Latin-1 bytes were not replaced one by one: {description!r}")
    if "activit\ufffd-\ufffd" not in description:
        sys.exit(f"the activity id's Latin-1 bytes were not replaced: {description!r}")
print(f"{total} descriptions hold whole characters")
EOF
# A 403 makes Cosmos DB not ready, with its text in the reason that /readyz and the
# cosmos-not-ready line show. The consumer cuts that text too.
kill "$STALLED_COSMOS_PID"
wait "$STALLED_COSMOS_PID" 2>/dev/null || true
stalled_cosmos_start --mode forbid-text
node "$here/delivery_counts.js" send "$queue" 1 || fail "sending the message failed"
start_consumer "$queue" "$test_dir/consumer-forbidden.log" "${STAND_IN_OPTIONS[@]}" \
    --concurrency 1 --prefetch 0
not_ready_logged() { grep -q '"event":"cosmos-not-ready"' "$test_dir/consumer-forbidden.log"; }
wait_until 60 not_ready_logged || fail "the consumer did not report Cosmos DB not ready"
stop_consumer TERM
/usr/bin/python3 - "$test_dir/consumer-forbidden.log" <<'EOF' || fail "the not-ready reason is wrong"
import json
import sys

with open(sys.argv[1], "rb") as log:
    records = [json.loads(line.decode("utf-8", errors="strict")) for line in log]
reasons = [r["msg"] for r in records if r.get("event") == "cosmos-not-ready"]
if not reasons:
    sys.exit("no cosmos-not-ready line")
for reason in reasons:
    if "x\u00e9" not in reason:
        sys.exit(f"the reason does not quote the Cosmos message: {reason!r}")
    if "\ufffd" in reason:
        sys.exit(f"a character was cut in two: {reason!r}")
print(f"{len(reasons)} not-ready reasons hold whole characters")
EOF
echo "foreign_text: ok"
