#!/usr/bin/python3
"""The Python peer of our producer: azure-servicebus 7.8.2 (Debian, on uamqp) with
ServiceBusMessageBatch, as its documentation recommends for throughput.

Each message carries the same JSON body as ours, a fresh UUID message-id and the content type
application/json. Prints one JSON line with the counts and the elapsed seconds.

azure-servicebus 7.8.2 speaks AMQP only over TLS and always to port 5671 (its configuration has
no port option; a custom endpoint address switches to WebSockets). To reach an emulator on a
port chosen at run time, this peer sets the sender's private connection_port to the port of the
connection string's endpoint, and --ca-file names the emulator's test CA.
"""
import argparse
import datetime
import json
import os
import sys
import time
import urllib.parse
import uuid

from azure.servicebus import ServiceBusClient, ServiceBusMessage


def make_body(count, size):
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    head = '{"msg": "Scale Test Message : COUNT %d", "srcStamp": "%s"' % (count, stamp)
    pad = size - len(head) - 12
    if pad < 0:
        return (head + "}").encode()
    return (head + ', "pad": "' + "x" * pad + '"}').encode()


def endpoint_port(connection_string):
    for part in connection_string.split(";"):
        name, _, value = part.partition("=")
        if name.strip().lower() == "endpoint":
            return urllib.parse.urlparse(value.strip()).port
    return None


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connection-string", default=os.environ.get("SERVICEBUS_CONNECTION_STRING"),
                        help="Service Bus connection string (env SERVICEBUS_CONNECTION_STRING)")
    parser.add_argument("--queue", default=os.environ.get("SERVICEBUS_QUEUE"),
                        help="queue name (env SERVICEBUS_QUEUE)")
    parser.add_argument("--count", type=int, default=10000, help="messages to send")
    parser.add_argument("--size", type=int, default=200, help="body size in bytes")
    parser.add_argument("--ca-file", default=os.environ.get("SERVICEBUS_CA_FILE"),
                        help="CA bundle that verifies the emulator's TLS certificate")
    args = parser.parse_args()
    if not args.connection_string or not args.queue:
        parser.error("--connection-string and --queue (or SERVICEBUS_CONNECTION_STRING and "
                     "SERVICEBUS_QUEUE) are required")
    return args


def main():
    args = parse_args()
    # The SDK refuses UseDevelopmentEmulator, which it does not know; TLS is used regardless.
    connection_string = ";".join(
        part for part in args.connection_string.split(";")
        if not part.strip().lower().startswith("usedevelopmentemulator"))
    client = ServiceBusClient.from_connection_string(connection_string,
                                                     connection_verify=args.ca_file)
    sender = client.get_queue_sender(args.queue)
    port = endpoint_port(args.connection_string)
    if port:
        sender._config.connection_port = port  # pylint: disable=protected-access

    accepted = 0
    with client, sender:
        sender.create_message_batch()  # opens the link before the clock starts
        start = time.monotonic()
        count = 1
        while count <= args.count:
            batch = sender.create_message_batch()
            while count <= args.count:
                message = ServiceBusMessage(make_body(count, args.size),
                                            message_id=str(uuid.uuid4()),
                                            content_type="application/json")
                try:
                    batch.add_message(message)
                except ValueError:
                    break
                count += 1
            if len(batch) == 0:
                sys.exit(f"python producer: a {args.size}-byte message does not fit in a batch")
            sender.send_messages(batch)
            accepted += len(batch)
        seconds = time.monotonic() - start
    print(json.dumps({"sent": args.count, "accepted": accepted, "seconds": seconds,
                      "msgs_per_s": accepted / seconds}))
    return 0 if accepted == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
