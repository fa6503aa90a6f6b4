#!/usr/bin/env bash
# RabbitMQ 3.10 with the AMQP 1.0 plugin as a generic broker: CBS off, SASL PLAIN. The producer
# sends 10,000 messages to /amq/queue/NAME and Qpid Proton's Python receiver gets exactly
# 10,000, each COUNT once. PLAIN over plain TCP must be refused unless allowed explicitly.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=../../lib/rabbitmq.sh
source "$WORKLOAD_ROOT/tests/lib/rabbitmq.sh"

rabbitmq_start "$PRODUCER_TEST_DIR/rabbitmq" producer-test
endpoint="Endpoint=amqp://127.0.0.1:$RABBITMQ_AMQP_PORT"

refused="$PRODUCER_TEST_DIR/refused.log"
status=0
run_producer "$refused" --connection-string "$endpoint;SharedAccessKeyName=$RABBITMQ_USER;SharedAccessKey=$RABBITMQ_PASSWORD" \
    --auth plain --queue "$RABBITMQ_ADDRESS" --count 1 || status=$?
[[ "$status" == 2 ]] || fail "PLAIN over plain TCP without --allow-insecure-plain exited $status, expected 2"
grep -q 'allow-insecure-plain' "$refused.stderr" || fail "the error does not name the flag"

log="$PRODUCER_TEST_DIR/producer.log"
run_producer "$log" --connection-string "$endpoint;SharedAccessKeyName=unused;SharedAccessKey=unused" \
    --auth plain --username "$RABBITMQ_USER" --password "$RABBITMQ_PASSWORD" \
    --allow-insecure-plain --queue "$RABBITMQ_ADDRESS" --count 10000 --inflight 500 ||
    fail "the producer exited with status $?: $(tail -3 "$log.stderr")"
expect_accepted "$log" 10000
if grep -q "$RABBITMQ_PASSWORD" "$log"; then
    fail "the password appears in the producer's log"
fi

result="$(/usr/bin/python3 "$PRODUCER_TEST_LIB/receive_proton.py" \
    --url "amqp://$RABBITMQ_USER:$RABBITMQ_PASSWORD@127.0.0.1:$RABBITMQ_AMQP_PORT" \
    --address "$RABBITMQ_ADDRESS" --expect 10000)" || fail "the Proton receiver: $result"
echo "received: $result"
