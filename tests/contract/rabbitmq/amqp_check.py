"""Checks RabbitMQ's AMQP 1.0 plugin as the project uses it, with Qpid Proton's Python binding:
SASL PLAIN login, sending to and receiving from a pre-declared queue at /amq/queue/NAME.

    amqp_check.py roundtrip COUNT   send COUNT messages, receive and accept each, expect no more
    amqp_check.py bad-password      expect the login with a wrong password to be rejected
    amqp_check.py anonymous         expect a login without credentials to be rejected

Connection settings come from RABBITMQ_AMQP_PORT, RABBITMQ_USER, RABBITMQ_PASSWORD and
RABBITMQ_ADDRESS (tests/lib/rabbitmq.sh exports them). Exits 0 when the check holds, 1 when it
does not, printing what differed.
"""

import json
import os
import sys
import uuid

from proton import ConnectionException, Message, Timeout
from proton.utils import BlockingConnection, LinkDetached

# A healthy broker replies within milliseconds, so this bound only catches one that hangs.
TIMEOUT_S = 30


def connect(password, mechanism="PLAIN"):
    url = "amqp://127.0.0.1:%s" % os.environ["RABBITMQ_AMQP_PORT"]
    credentials = {}
    if mechanism == "PLAIN":
        credentials = {"user": os.environ["RABBITMQ_USER"], "password": password}
    return BlockingConnection(
        url,
        timeout=TIMEOUT_S,
        allowed_mechs=mechanism,
        allow_insecure_mechs=True,
        **credentials,
    )


def make_message(index):
    body = {"msg": "Scale Test Message : COUNT %d" % index, "srcStamp": "2026-12-04 06:14:27.123456"}
    return Message(
        id=str(uuid.uuid4()),
        content_type="application/json",
        body=json.dumps(body).encode(),
        durable=True,
        inferred=True,
    )


def check_received(sent, received):
    failures = []
    if len(received) != len(sent):
        failures.append("received %d messages, expected %d" % (len(received), len(sent)))
    for expected, actual in zip(sent, received):
        if actual.id != expected.id:
            failures.append("message-id %r, expected %r" % (actual.id, expected.id))
        if actual.content_type != "application/json":
            failures.append("content-type %r, expected application/json" % actual.content_type)
        if bytes(actual.body) != bytes(expected.body):
            failures.append("body %r, expected %r" % (actual.body, expected.body))
    return failures


def roundtrip(count):
    address = os.environ["RABBITMQ_ADDRESS"]
    connection = connect(os.environ["RABBITMQ_PASSWORD"])
    sender = connection.create_sender(address)
    sent = [make_message(index) for index in range(count)]
    for message in sent:
        sender.send(message, timeout=TIMEOUT_S)

    receiver = connection.create_receiver(address, credit=min(count, 100))
    received = []
    for _ in range(count):
        received.append(receiver.receive(timeout=TIMEOUT_S))
        receiver.accept()

    failures = check_received(sent, received)
    try:
        extra = receiver.receive(timeout=1)
        failures.append("an extra message arrived: %r" % extra.body)
    except Timeout:
        pass
    connection.close()

    for failure in failures[:20]:
        print("roundtrip: %s" % failure)
    if failures:
        return 1
    print("roundtrip: %d messages sent and received through %s" % (count, address))
    return 0


def expect_rejected(name, password, mechanism):
    try:
        connection = connect(password, mechanism)
        connection.create_sender(os.environ["RABBITMQ_ADDRESS"])
    except (ConnectionException, LinkDetached) as error:
        print("%s: login rejected as expected: %s" % (name, error))
        return 0
    print("%s: the broker accepted the login and a sender" % name)
    return 1


def main(argv):
    if len(argv) == 3 and argv[1] == "roundtrip":
        return roundtrip(int(argv[2]))
    if len(argv) == 2 and argv[1] == "bad-password":
        return expect_rejected("bad-password", os.environ["RABBITMQ_PASSWORD"] + "-wrong", "PLAIN")
    if len(argv) == 2 and argv[1] == "anonymous":
        return expect_rejected("anonymous", None, "ANONYMOUS")
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
