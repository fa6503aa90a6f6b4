#!/usr/bin/python3
"""A deliberately unreliable AMQP 1.0 broker (Qpid Proton's Python binding) for the producer's
resend test. It listens on 127.0.0.1 with SASL ANONYMOUS and:

  - on the first connection accepts the first --accept-first transfers, leaves the next --hold
    unsettled, then closes the connection with amqp:connection:forced;
  - on the second connection, after --detach-after transfers, leaves --hold more unsettled and
    then detaches the link with amqp:link:detach-forced, as Service Bus does to idle links;
  - on later connections rejects the first transfer of each message whose COUNT is a multiple
    of --busy-every with com.microsoft:server-busy, and accepts everything else;
  - on any connection, never settles the first transfer of the message whose COUNT is
    --withhold-count, so that only the producer's send timeout can resend it;
  - on any connection, rejects every transfer of each message whose COUNT is a multiple of
    --always-busy-every with com.microsoft:server-busy, so that it runs out of retries;
  - on any connection, leaves the first transfer of the message whose COUNT is
    --late-accept-count unsettled until its second transfer arrives, then accepts the first one
    and never settles the second or any later one. With --late-accept-busy it rejects the
    second transfer with com.microsoft:server-busy just before accepting the first, and accepts
    any later one.

It implements no CBS: a link to $cbs is detached with amqp:not-implemented, so run the producer
with --auth none. A transfer whose body is not the producer's JSON is rejected with
amqp:decode-error.

After each connection closes it writes --report: every transfer with its connection number,
message-id, COUNT and outcome. Stop it with SIGTERM.

  flaky_broker.py --port-file F --report F [--accept-first 300] [--hold 200] [--busy-every 97]
                  [--detach-after 300] [--withhold-count N] [--always-busy-every N]
                  [--late-accept-count N] [--late-accept-busy]
"""
import argparse
import os
import json
import re
import socket
import sys

from proton import Condition, Delivery
from proton.handlers import MessagingHandler
from proton.reactor import Container

COUNT = re.compile(r"COUNT ([0-9]+)")


class Broker(MessagingHandler):
    def __init__(self, options, port):
        super().__init__(prefetch=1000, auto_accept=False)
        self.options = options
        self.port = port
        self.connections = 0
        self.transfers = []  # [connection, message-id, count, outcome]
        self.busy_done = set()
        self.first_connection = None
        self.second_seen = 0
        self.detached = False
        self.current_connection = None
        self.first_seen = 0
        self.withheld = False
        self.late_first = None  # the first transfer of --late-accept-count, until accepted
        self.late_first_entry = None

    def on_start(self, event):
        event.container.listen(f"127.0.0.1:{self.port}")
        with open(self.options.port_file, "w", encoding="utf-8") as port_file:
            port_file.write(str(self.port))

    def on_link_opened(self, event):
        if event.link.remote_target.address == "$cbs" or event.link.remote_source.address == "$cbs":
            event.link.condition = Condition("amqp:not-implemented",
                                             "this test broker has no CBS: use --auth none")
            event.link.close()

    def on_message(self, event):
        if event.connection != self.current_connection:
            self.current_connection = event.connection
            self.connections += 1
            if self.first_connection is None:
                self.first_connection = event.connection
        message = event.message
        body = message.body
        if isinstance(body, (bytes, memoryview)):
            body = bytes(body).decode("utf-8")
        try:
            count = int(COUNT.search(json.loads(body)["msg"]).group(1))
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            event.delivery.local.condition = Condition("amqp:decode-error",
                                                       f"not a producer message: {error}")
            event.delivery.update(Delivery.REJECTED)
            event.delivery.settle()
            return
        entry = [self.connections, message.id, count, None]
        self.transfers.append(entry)

        if count == self.options.withhold_count and not self.withheld:
            self.withheld = True
            entry[3] = "withheld"
            return
        if count == self.options.late_accept_count:
            entry[3] = "withheld"
            if self.late_first_entry is None:
                self.late_first, self.late_first_entry = event.delivery, entry
            elif self.late_first is not None:
                if self.options.late_accept_busy:
                    entry[3] = "busy"
                    self.reject_busy(event.delivery, "the test rejects the resend")
                self.accept(self.late_first)
                self.late_first = None
                self.late_first_entry[3] = "accepted late"
            elif self.options.late_accept_busy:
                entry[3] = "accepted"
                self.accept(event.delivery)
            return
        if self.options.always_busy_every > 0 and count % self.options.always_busy_every == 0:
            entry[3] = "busy"
            self.reject_busy(event.delivery, "the test rejects this every time")
            return

        if event.connection == self.first_connection:
            self.first_seen += 1
            if self.first_seen <= self.options.accept_first:
                entry[3] = "accepted"
                self.accept(event.delivery)
            else:
                entry[3] = "held"
                if self.first_seen == self.options.accept_first + self.options.hold:
                    event.connection.condition = Condition("amqp:connection:forced",
                                                           "the test drops this connection")
                    event.connection.close()
            return

        if self.connections == 2 and not self.detached:
            self.second_seen += 1
            if self.second_seen > self.options.detach_after:
                entry[3] = "held"
                if self.second_seen == self.options.detach_after + self.options.hold:
                    self.detached = True
                    event.link.condition = Condition("amqp:link:detach-forced",
                                                     "the test detaches this link")
                    event.link.close()
                return

        if count % self.options.busy_every == 0 and message.id not in self.busy_done:
            self.busy_done.add(message.id)
            entry[3] = "busy"
            self.reject_busy(event.delivery, "the test rejects this once")
            return
        entry[3] = "accepted"
        self.accept(event.delivery)

    @staticmethod
    def reject_busy(delivery, description):
        delivery.local.condition = Condition("com.microsoft:server-busy", description)
        delivery.update(Delivery.REJECTED)
        delivery.settle()

    def write_report(self):
        with open(self.options.report + ".tmp", "w", encoding="utf-8") as report:
            json.dump({"connections": self.connections, "transfers": self.transfers}, report)
        os.replace(self.options.report + ".tmp", self.options.report)

    def on_connection_closed(self, event):
        self.write_report()

    def on_connection_closing(self, event):
        self.write_report()

    def on_disconnected(self, event):
        self.write_report()

    def on_transport_closed(self, event):
        self.write_report()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--accept-first", type=int, default=300)
    parser.add_argument("--hold", type=int, default=200)
    parser.add_argument("--busy-every", type=int, default=97)
    parser.add_argument("--detach-after", type=int, default=300)
    parser.add_argument("--withhold-count", type=int, default=-1)
    parser.add_argument("--always-busy-every", type=int, default=0)
    parser.add_argument("--late-accept-count", type=int, default=-1)
    parser.add_argument("--late-accept-busy", action="store_true")
    options = parser.parse_args()
    Container(Broker(options, free_port())).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
