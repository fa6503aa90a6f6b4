#!/usr/bin/env bash
# Against RabbitMQ 3.10 (a generic AMQP 1.0 broker: SASL PLAIN, no CBS, no $management,
# rcv-settle-mode first only), the consumer stores one document per good message, rejects
# the poison ones, and leaves the queue empty.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=../../lib/rabbitmq.sh
source "$root/tests/lib/rabbitmq.sh"

test_dir="$(mktemp -d)"
trap 'cleanup; rabbitmq_stop || true' EXIT
cosmos_start "$test_dir/cosmos" || fail "the Cosmos test server did not start"
rabbitmq_start "$test_dir/rabbitmq" workload || fail "RabbitMQ did not start"
export COSMOS_DATABASE="itest" COSMOS_CONTAINER="results"
broker_url="amqp://$RABBITMQ_USER:$RABBITMQ_PASSWORD@127.0.0.1:$RABBITMQ_AMQP_PORT"

# send_messages COUNT: sends COUNT good messages and two poison ones; prints the good ids.
send_messages() {
    /usr/bin/python3 - "$broker_url" "$RABBITMQ_ADDRESS" "$1" <<'PY'
import datetime, json, sys, uuid
from proton import Message
from proton.utils import BlockingConnection

url, address, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
connection = BlockingConnection(url, allowed_mechs="PLAIN")
sender = connection.create_sender(address)
for i in range(count):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    body = json.dumps({"msg": f"Scale Test Message : COUNT {i}", "srcStamp": stamp}).encode()
    message_id = str(uuid.uuid4())
    sender.send(Message(id=message_id, body=body, inferred=True))
    print(message_id)
sender.send(Message(id=str(uuid.uuid4()), body=b"not json", inferred=True))
sender.send(Message(id=str(uuid.uuid4()), body=b"[1, 2]", inferred=True))
connection.close()
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

send_messages 200 | LC_ALL=C sort >"$test_dir/expected-ids" || fail "sending to RabbitMQ failed"
# start_consumer passes EMULATOR_CONNECTION_STRING to the consumer.
EMULATOR_CONNECTION_STRING="Endpoint=amqp://127.0.0.1:$RABBITMQ_AMQP_PORT;SharedAccessKeyName=$RABBITMQ_USER;SharedAccessKey=$RABBITMQ_PASSWORD" \
    start_consumer workload "$test_dir/consumer.log" --auth plain --allow-insecure-plain --rcv-settle-mode first \
    --management false --source-address "$RABBITMQ_ADDRESS"
settled() {
    [[ "$(metric consumer_messages_completed_total)" -ge 200 &&
        "$(metric consumer_messages_dead_lettered_total)" -ge 2 ]]
}
wait_until 120 settled || fail "the consumer did not settle 202 messages"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"

node "$root/tests/lib/cosmos_count.js" ids >"$test_dir/stored-ids" || fail "reading documents failed"
diff "$test_dir/expected-ids" "$test_dir/stored-ids" >/dev/null ||
    fail "the stored ids differ from the sent ones"
[[ "$(remaining_messages)" == 0 ]] || fail "messages are left in the RabbitMQ queue"
echo "rabbitmq: ok"
