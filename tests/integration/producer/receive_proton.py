#!/usr/bin/python3
"""Receives the producer's messages from a generic AMQP 1.0 broker (RabbitMQ) with Qpid Proton's
Python binding and checks them as receive.js does: content type application/json, unique UUID
message-ids, and the JSON body with msg "Scale Test Message : COUNT n" and srcStamp. Prints one
JSON summary line; exits 0 only when exactly COUNT 1..--expect arrived, each once.

  receive_proton.py --url amqp://USER:PASSWORD@127.0.0.1:PORT --address /amq/queue/Q --expect N
"""
import argparse
import json
import re
import sys

from proton.handlers import MessagingHandler
from proton.reactor import Container

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
MSG = re.compile(r"^Scale Test Message : COUNT ([1-9][0-9]*)$")
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")


class Receiver(MessagingHandler):
    def __init__(self, options):
        super().__init__(prefetch=500)
        self.options = options
        self.ids = set()
        self.counts = {}
        self.received = 0
        self.problems = []
        self.timer = None
        self.settle_timer = None
        self.connection = None

    def problem(self, text):
        if len(self.problems) < 20:
            self.problems.append(text)

    def on_start(self, event):
        self.connection = event.container.connect(self.options.url, allowed_mechs="PLAIN",
                                                  allow_insecure_mechs=True)
        event.container.create_receiver(self.connection, self.options.address)
        self.timer = event.container.schedule(self.options.timeout_s, self)

    def on_timer_task(self, event):
        self.connection.close()

    def on_message(self, event):
        message = event.message
        self.received += 1
        if message.content_type != "application/json":
            self.problem(f"content type {message.content_type}")
        if not isinstance(message.id, str) or not UUID.match(message.id):
            self.problem(f"message-id {message.id!r}")
        if message.id in self.ids:
            self.problem(f"duplicate message-id {message.id}")
        self.ids.add(message.id)
        body = message.body
        if isinstance(body, (bytes, memoryview)):
            body = bytes(body).decode("utf-8")
        try:
            document = json.loads(body)
        except (TypeError, ValueError):
            self.problem(f"body is not JSON: {body!r:.80}")
            return
        match = MSG.match(document.get("msg", "")) if isinstance(document, dict) else None
        if not match or not STAMP.match(str(document.get("srcStamp", ""))):
            self.problem(f"body {document!r:.120}")
            return
        count = int(match.group(1))
        self.counts[count] = self.counts.get(count, 0) + 1
        if len(self.counts) == self.options.expect and self.settle_timer is None:
            # Keep receiving briefly, so that extra messages are caught.
            self.timer.cancel()
            self.settle_timer = event.container.schedule(2.0, self)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--timeout-s", type=float, default=120)
    options = parser.parse_args()

    receiver = Receiver(options)
    Container(receiver).run()
    missing = [n for n in range(1, options.expect + 1) if n not in receiver.counts][:20]
    duplicates = sum(times - 1 for times in receiver.counts.values())
    ok = not missing and not receiver.problems and duplicates == 0 and (
        receiver.received == options.expect)
    print(json.dumps({"ok": ok, "received": receiver.received,
                      "distinct_counts": len(receiver.counts), "distinct_ids": len(receiver.ids),
                      "duplicate_counts": duplicates, "missing_first": missing,
                      "problems": receiver.problems}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
