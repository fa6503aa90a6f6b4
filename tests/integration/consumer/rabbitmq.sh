#!/usr/bin/env bash
# Against RabbitMQ 3.10 (a generic AMQP 1.0 broker: SASL PLAIN, no CBS, no $management,
# rcv-settle-mode first only), the consumer stores one document per good message with the
# message's fields, rejects each poison message with its reason, and leaves the queue empty.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=../../lib/rabbitmq.sh
source "$root/tests/lib/rabbitmq.sh"

test_dir="$(mktemp -d)"
trap 'cleanup; rabbitmq_stop || true' EXIT
cosmos_start "$test_dir/cosmos" || fail "the Cosmos test server did not start"
rabbitmq_start "$test_dir/rabbitmq" workload || fail "RabbitMQ did not start"
export COSMOS_DATABASE="itest" COSMOS_CONTAINER="results"
broker_url="amqp://$RABBITMQ_USER:$RABBITMQ_PASSWORD@127.0.0.1:$RABBITMQ_AMQP_PORT"

# send_messages COUNT EXPECTED: sends COUNT good messages and two poison ones, and writes
# what the consumer must make of them to EXPECTED in seed.js's format.
send_messages() {
    /usr/bin/python3 - "$broker_url" "$RABBITMQ_ADDRESS" "$1" "$2" <<'PY'
import datetime, json, sys, uuid
from proton import Message
from proton.utils import BlockingConnection

url, address, count, expected_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
connection = BlockingConnection(url, allowed_mechs="PLAIN")
sender = connection.create_sender(address)
expected = {"good": [], "poison": []}
for i in range(count):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    text = f"Scale Test Message : COUNT {i}"
    body = json.dumps({"msg": text, "srcStamp": stamp}).encode()
    message_id = str(uuid.uuid4())
    sender.send(Message(id=message_id, body=body, inferred=True))
    expected["good"].append({"id": message_id, "msg": text, "srcStamp": stamp})
for reason, body in (("InvalidJson", b"not json"), ("NotAnObject", b"[1, 2]")):
    message_id = str(uuid.uuid4())
    sender.send(Message(id=message_id, body=body, inferred=True))
    expected["poison"].append({"id": message_id, "reason": reason})
connection.close()
with open(expected_path, "w") as expected_file:
    json.dump(expected, expected_file)
PY
}

# remaining_messages: receives for a moment and prints how many messages were still queued.
remaining_messages() {
    /usr/bin/python3 - "$broker_url" "$RABBITMQ_ADDRESS" <<'PY'
import sys
from proton.utils import BlockingConnection
from proton import Timeout

connection = BlockingConnection(sys.argv[1], allowed_mechs="PLAIN")
receiver = connection.create_receiver(sys.argv[2], credit=10)
count = 0
try:
    while True:
        receiver.receive(timeout=1)
        receiver.accept()
        count += 1
except Timeout:
    pass
connection.close()
print(count)
PY
}

# check_documents EXPECTED DOCUMENTS: checks one document per good message, with the fields
# that check.js checks for Service Bus. RabbitMQ sets no x-opt-sequence-number and no
# x-opt-enqueued-time, so sequenceNumber and enqueuedTime must be absent.
check_documents() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import datetime, json, re, sys

expected = json.load(open(sys.argv[1]))
documents = {document["id"]: document for document in json.load(open(sys.argv[2]))}
stamp_format = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")
fields = {"id", "data", "srcStamp", "destStamp", "messageProcessingTime", "deliveryCount"}
failures = []


def parse(stamp):
    return datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f")


if len(documents) != len(expected["good"]):
    failures.append(f"Cosmos holds {len(documents)} documents, expected {len(expected['good'])}")
for good in expected["good"]:
    message_id = good["id"]
    document = documents.pop(message_id, None)
    if document is None:
        failures.append(f"no document for message {message_id}")
        continue
    # Cosmos DB adds its system properties, whose names start with an underscore.
    own_fields = {name for name in document if not name.startswith("_")}
    if own_fields != fields:
        failures.append(f"{message_id}: fields {sorted(own_fields)}, expected {sorted(fields)}")
    if document.get("data") != good["msg"]:
        failures.append(f"{message_id}: data {document.get('data')!r}, expected {good['msg']!r}")
    if document.get("srcStamp") != good["srcStamp"]:
        failures.append(f"{message_id}: srcStamp {document.get('srcStamp')!r}, expected {good['srcStamp']!r}")
    if document.get("deliveryCount") != 1:
        failures.append(f"{message_id}: deliveryCount {document.get('deliveryCount')!r}, expected 1")
    dest_stamp = document.get("destStamp")
    if not isinstance(dest_stamp, str) or not stamp_format.match(dest_stamp):
        failures.append(f"{message_id}: destStamp {dest_stamp!r}")
        continue
    # messageProcessingTime is destStamp minus srcStamp, and both have microseconds.
    elapsed = (parse(dest_stamp) - parse(good["srcStamp"])).total_seconds()
    processing = document.get("messageProcessingTime")
    if not isinstance(processing, (int, float)) or processing < 0 or abs(processing - elapsed) > 1e-5:
        failures.append(f"{message_id}: messageProcessingTime {processing!r}, but the stamps differ by {elapsed}")
for message_id in documents:
    failures.append(f"unexpected document {message_id}")

for failure in failures[:20]:
    print(f"FAIL {failure}")
print(f"{len(expected['good'])} documents checked, {len(failures)} mismatches")
sys.exit(1 if failures else 0)
PY
}

send_messages 200 "$test_dir/expected.json" || fail "sending to RabbitMQ failed"
# start_consumer passes EMULATOR_CONNECTION_STRING to the consumer.
EMULATOR_CONNECTION_STRING="Endpoint=amqp://127.0.0.1:$RABBITMQ_AMQP_PORT;SharedAccessKeyName=$RABBITMQ_USER;SharedAccessKey=$RABBITMQ_PASSWORD" \
    start_consumer workload "$test_dir/consumer.log" --auth plain --allow-insecure-plain --rcv-settle-mode first \
    --management false --source-address "$RABBITMQ_ADDRESS"
settled() {
    [[ "$(metric consumer_messages_completed_total)" -ge 200 &&
        "$(metric consumer_messages_dead_lettered_total)" -ge 2 ]]
}
wait_until 120 settled || fail "the consumer did not settle 202 messages"
# Nothing fails here, so each message is received once and settled once.
for expected in received=202 completed=200 dead_lettered=2 abandoned=0; do
    name="consumer_messages_${expected%=*}_total"
    value="$(metric "$name")"
    [[ "$value" == "${expected#*=}" ]] || fail "$name is $value, expected ${expected#*=}"
done
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"

node "$root/tests/lib/cosmos_count.js" dump >"$test_dir/documents.json" || fail "reading documents failed"
check_documents "$test_dir/expected.json" "$test_dir/documents.json" || fail "the documents are wrong"

# The consumer rejected each poison message with its reason, and no other message.
grep '"event":"message-dead-lettered"' "$test_dir/consumer.log" |
    sed -n 's/.*message \([^ ]*\) dead-lettered: \([A-Za-z0-9]*\):.*/\1 \2/p' |
    LC_ALL=C sort >"$test_dir/dead-lettered"
node -e "for (const p of require('$test_dir/expected.json').poison) console.log(p.id + ' ' + p.reason)" |
    LC_ALL=C sort >"$test_dir/poison"
diff "$test_dir/poison" "$test_dir/dead-lettered" ||
    fail "the dead-lettered messages (right) differ from the poison ones (left)"
[[ "$(remaining_messages)" == 0 ]] || fail "messages are left in the RabbitMQ queue"
echo "rabbitmq: ok"
