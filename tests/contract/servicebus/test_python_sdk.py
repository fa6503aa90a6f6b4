"""Contract checks of the Service Bus emulator driven by azure-servicebus 7.8.2 on uamqp.

Run through run.sh with Debian's /usr/bin/python3. This SDK version speaks AMQP only over TLS
and always dials port 5671, so the tests point its default port at the emulator's TLS port
and trust the test CA through connection_verify.
"""

import datetime
import os
import re
import time
import unittest
import urllib.request

import azure.servicebus._common._configuration as sb_configuration
from azure.servicebus import (
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusMessageState,
    ServiceBusReceiveMode,
    ServiceBusSubQueue,
)
from azure.servicebus.exceptions import (
    MessageLockLostError,
    MessageSizeExceededError,
    MessagingEntityNotFoundError,
    ServiceBusAuthenticationError,
    ServiceBusAuthorizationError,
    ServiceBusCommunicationError,
    ServiceBusConnectionError,
    ServiceBusError,
)

AMQPS_PORT = int(os.environ["EMULATOR_AMQPS_PORT"])
HTTP_PORT = int(os.environ["EMULATOR_HTTP_PORT"])
CA_FILE = os.environ["EMULATOR_CA_FILE"]
# NOTE: azure-servicebus 7.8.2 has no option for the AMQP port; this module constant is read
# each time a handler is configured.
sb_configuration.DEFAULT_AMQPS_PORT = AMQPS_PORT

KEY_NAME = "RootManageSharedAccessKey"
KEY = "SAS_KEY_VALUE"


def connection_string(key=KEY, key_name=KEY_NAME):
    return f"Endpoint=sb://localhost/;SharedAccessKeyName={key_name};SharedAccessKey={key}"


def make_client(key=KEY, key_name=KEY_NAME):
    return ServiceBusClient.from_connection_string(
        connection_string(key, key_name), connection_verify=CA_FILE, retry_total=1
    )


def count_details(queue):
    """Reads ActiveMessageCount and DeadLetterMessageCount from the HTTP queue description."""
    url = f"http://127.0.0.1:{HTTP_PORT}/{queue}?api-version=2021-05"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    counts = {}
    for name in ("ActiveMessageCount", "DeadLetterMessageCount"):
        match = re.search(rf"<d2p1:{name}>(\d+)</d2p1:{name}>", text)
        if match is None:
            raise AssertionError(f"no {name} in the queue description: {text[:200]}")
        counts[name] = int(match.group(1))
    return counts["ActiveMessageCount"], counts["DeadLetterMessageCount"]


def purge(client, queue, sub_queue=None):
    with client.get_queue_receiver(
        queue, sub_queue=sub_queue, receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE
    ) as receiver:
        while receiver.receive_messages(max_message_count=100, max_wait_time=1):
            pass


def receive_one(receiver):
    messages = receiver.receive_messages(max_message_count=1, max_wait_time=5)
    if not messages:
        raise AssertionError("no message was received")
    return messages[0]


class MessageTest(unittest.TestCase):
    def test_message_properties_roundtrip(self):
        with make_client() as client:
            purge(client, "orders")
            sent = ServiceBusMessage(
                '{"msg": "Scale Test Message : COUNT 7"}',
                message_id="python-props-1",
                content_type="application/json",
                correlation_id="correlation-python",
                subject="scale-test",
                to="consumer",
                reply_to="replies",
                time_to_live=datetime.timedelta(minutes=10),
                application_properties={"count": 7, "source": "python"},
            )
            before = datetime.datetime.now(datetime.timezone.utc)
            with client.get_queue_sender("orders") as sender:
                sender.send_messages(sent)
            with client.get_queue_receiver("orders") as receiver:
                message = receive_one(receiver)
                self.assertEqual(str(message), '{"msg": "Scale Test Message : COUNT 7"}')
                self.assertEqual(message.message_id, "python-props-1")
                self.assertEqual(message.content_type, "application/json")
                self.assertEqual(message.correlation_id, "correlation-python")
                self.assertEqual(message.subject, "scale-test")
                self.assertEqual(message.to, "consumer")
                self.assertEqual(message.reply_to, "replies")
                self.assertEqual(message.time_to_live, datetime.timedelta(minutes=10))
                self.assertEqual(message.application_properties[b"count"], 7)
                self.assertEqual(message.application_properties[b"source"], b"python")
                self.assertEqual(message.delivery_count, 0)
                self.assertGreaterEqual(message.sequence_number, 1)
                self.assertGreaterEqual(
                    message.enqueued_time_utc, before - datetime.timedelta(seconds=1)
                )
                self.assertGreater(message.locked_until_utc, message.enqueued_time_utc)
                self.assertRegex(str(message.lock_token), r"^[0-9a-f-]{36}$")
                receiver.complete_message(message)

    def test_batch_of_50_received_once(self):
        with make_client() as client:
            purge(client, "test-queue")
            with client.get_queue_sender("test-queue") as sender:
                batch = sender.create_message_batch()
                for i in range(50):
                    batch.add_message(ServiceBusMessage(f"python batch {i}", message_id=f"py-{i}"))
                sender.send_messages(batch)
            self.assertEqual(count_details("test-queue"), (50, 0))
            seen = {}
            with client.get_queue_receiver("test-queue") as receiver:
                for _ in range(20):
                    if len(seen) == 50:
                        break
                    for message in receiver.receive_messages(max_message_count=50, max_wait_time=2):
                        seen[message.message_id] = seen.get(message.message_id, 0) + 1
                        receiver.complete_message(message)
                extra = receiver.receive_messages(max_message_count=10, max_wait_time=1)
            self.assertEqual(sorted(seen), sorted(f"py-{i}" for i in range(50)))
            self.assertTrue(all(count == 1 for count in seen.values()), seen)
            self.assertEqual(extra, [])
            self.assertEqual(count_details("test-queue"), (0, 0))

    def test_full_size_batch_accepted(self):
        """A batch filled to the link's max-message-size spans several 64 KB frames."""
        with make_client() as client:
            purge(client, "test-queue")
            with client.get_queue_sender("test-queue") as sender:
                batch = sender.create_message_batch()
                self.assertEqual(batch.max_size_in_bytes, 262144)
                count = 0
                while True:
                    try:
                        batch.add_message(ServiceBusMessage("x" * 4096, message_id=f"big-{count}"))
                    except ValueError:
                        break
                    count += 1
                self.assertGreater(count, 50)
                sender.send_messages(batch)
            self.assertEqual(count_details("test-queue"), (count, 0))
            purge(client, "test-queue")


class SettlementTest(unittest.TestCase):
    def setUp(self):
        self.client = make_client()
        purge(self.client, "orders")
        purge(self.client, "orders", ServiceBusSubQueue.DEAD_LETTER)

    def tearDown(self):
        self.client.close()

    def send(self, message_id):
        with self.client.get_queue_sender("orders") as sender:
            sender.send_messages(ServiceBusMessage(message_id, message_id=message_id))

    def test_complete_removes(self):
        self.send("py-complete")
        with self.client.get_queue_receiver("orders") as receiver:
            message = receive_one(receiver)
            receiver.complete_message(message)
            self.assertEqual(receiver.receive_messages(max_message_count=1, max_wait_time=1), [])
        self.assertEqual(count_details("orders"), (0, 0))

    def test_abandon_redelivers_with_count_plus_one(self):
        self.send("py-abandon")
        with self.client.get_queue_receiver("orders") as receiver:
            first = receive_one(receiver)
            receiver.abandon_message(first)
            second = receive_one(receiver)
            self.assertEqual(second.message_id, "py-abandon")
            self.assertEqual(second.delivery_count, first.delivery_count + 1)
            receiver.complete_message(second)

    def test_dead_letter_with_reason(self):
        self.send("py-dead-letter")
        with self.client.get_queue_receiver("orders") as receiver:
            message = receive_one(receiver)
            receiver.dead_letter_message(
                message, reason="ValidationFailed", error_description="missing srcStamp"
            )
        self.assertEqual(count_details("orders"), (0, 1))
        with self.client.get_queue_receiver(
            "orders", sub_queue=ServiceBusSubQueue.DEAD_LETTER
        ) as dead_letters:
            dead = receive_one(dead_letters)
            self.assertEqual(dead.message_id, "py-dead-letter")
            self.assertEqual(dead.dead_letter_reason, "ValidationFailed")
            self.assertEqual(dead.dead_letter_error_description, "missing srcStamp")
            dead_letters.complete_message(dead)

    def test_max_delivery_count_dead_letters(self):
        self.send("py-max-delivery")
        with self.client.get_queue_receiver("orders") as receiver:
            for attempt in range(3):
                message = receive_one(receiver)
                self.assertEqual(message.delivery_count, attempt)
                receiver.abandon_message(message)
            self.assertEqual(receiver.receive_messages(max_message_count=1, max_wait_time=1), [])
        with self.client.get_queue_receiver(
            "orders", sub_queue=ServiceBusSubQueue.DEAD_LETTER
        ) as dead_letters:
            dead = receive_one(dead_letters)
            self.assertEqual(dead.message_id, "py-max-delivery")
            self.assertEqual(dead.dead_letter_reason, "MaxDeliveryCountExceeded")
            dead_letters.complete_message(dead)

    def test_receive_and_delete_removes(self):
        self.send("py-receive-and-delete")
        with self.client.get_queue_receiver(
            "orders", receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE
        ) as receiver:
            message = receive_one(receiver)
            self.assertEqual(message.message_id, "py-receive-and-delete")
        self.assertEqual(count_details("orders"), (0, 0))


class ManagementTest(unittest.TestCase):
    """Operations on the queue's $management node."""

    def setUp(self):
        self.client = make_client()
        purge(self.client, "test-queue")

    def tearDown(self):
        purge(self.client, "test-queue")
        self.client.close()

    def test_peek_does_not_lock(self):
        with self.client.get_queue_sender("test-queue") as sender:
            sender.send_messages([ServiceBusMessage("one", message_id="peek-1"),
                                  ServiceBusMessage("two", message_id="peek-2")])
        with self.client.get_queue_receiver("test-queue") as receiver:
            peeked = receiver.peek_messages(max_message_count=10)
            self.assertEqual([m.message_id for m in peeked], ["peek-1", "peek-2"])
            first = receive_one(receiver)
            self.assertEqual(first.message_id, "peek-1")
            receiver.complete_message(first)

    def test_deferred_received_by_sequence_number(self):
        with self.client.get_queue_sender("test-queue") as sender:
            sender.send_messages(ServiceBusMessage("later", message_id="py-defer"))
        with self.client.get_queue_receiver("test-queue") as receiver:
            message = receive_one(receiver)
            sequence_number = message.sequence_number
            receiver.defer_message(message)
            self.assertEqual(receiver.receive_messages(max_message_count=1, max_wait_time=1), [])
            deferred = receiver.receive_deferred_messages([sequence_number])
            self.assertEqual([m.message_id for m in deferred], ["py-defer"])
            receiver.complete_message(deferred[0])
        self.assertEqual(count_details("test-queue"), (0, 0))

    def test_schedule_and_cancel(self):
        at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
        with self.client.get_queue_sender("test-queue") as sender:
            kept, cancelled = sender.schedule_messages(
                [ServiceBusMessage("kept", message_id="py-kept"),
                 ServiceBusMessage("cancelled", message_id="py-cancelled")], at)
            sender.cancel_scheduled_messages(cancelled)
        self.assertEqual(count_details("test-queue"), (0, 0))
        with self.client.get_queue_receiver("test-queue") as receiver:
            messages = receiver.receive_messages(max_message_count=2, max_wait_time=8)
            self.assertEqual([m.message_id for m in messages], ["py-kept"])
            self.assertEqual(messages[0].sequence_number, kept)
            receiver.complete_message(messages[0])

    def test_peek_reports_message_state(self):
        at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
        with self.client.get_queue_sender("test-queue") as sender:
            sender.send_messages(ServiceBusMessage("to defer", message_id="py-state-deferred"))
            sender.send_messages(ServiceBusMessage("active", message_id="py-state-active"))
            (scheduled,) = sender.schedule_messages(
                ServiceBusMessage("later", message_id="py-state-scheduled"), at)
        with self.client.get_queue_receiver("test-queue") as receiver:
            message = receive_one(receiver)
            receiver.defer_message(message)
            peeked = receiver.peek_messages(
                max_message_count=10, sequence_number=message.sequence_number)
            self.assertEqual({m.message_id: m.state for m in peeked}, {
                "py-state-deferred": ServiceBusMessageState.DEFERRED,
                "py-state-active": ServiceBusMessageState.ACTIVE,
                "py-state-scheduled": ServiceBusMessageState.SCHEDULED,
            })
            (deferred,) = receiver.receive_deferred_messages([message.sequence_number])
            self.assertEqual(deferred.state, ServiceBusMessageState.DEFERRED)
            receiver.complete_message(deferred)
        with self.client.get_queue_sender("test-queue") as sender:
            sender.cancel_scheduled_messages(scheduled)


class LockTest(unittest.TestCase):
    """short-lock has LockDuration PT2S in the suite's Config.json."""

    def setUp(self):
        self.client = make_client()
        purge(self.client, "short-lock")
        with self.client.get_queue_sender("short-lock") as sender:
            sender.send_messages(ServiceBusMessage("locked", message_id="py-lock"))

    def tearDown(self):
        self.client.close()

    def test_expired_lock_redelivers(self):
        with self.client.get_queue_receiver("short-lock") as receiver:
            first = receive_one(receiver)
            time.sleep(3)
            second = receive_one(receiver)
            self.assertEqual(second.message_id, "py-lock")
            self.assertEqual(second.delivery_count, 1)
            # Settling an expired lock fails: with MessageLockLostError from the emulator's
            # reply, or with ServiceBusError when the SDK's own clock sees the expiry first.
            with self.assertRaises((MessageLockLostError, ServiceBusError)) as caught:
                receiver.complete_message(first)
            self.assertIn("lock", str(caught.exception).lower())
            receiver.complete_message(second)

    def test_renew_lock_extends(self):
        with self.client.get_queue_receiver("short-lock") as receiver:
            message = receive_one(receiver)
            first_until = message.locked_until_utc
            time.sleep(1)
            renewed_until = receiver.renew_message_lock(message)
            self.assertGreater(renewed_until, first_until)
            time.sleep(1.5)
            receiver.complete_message(message)
            self.assertEqual(receiver.receive_messages(max_message_count=1, max_wait_time=1), [])


class ErrorTest(unittest.TestCase):
    def test_wrong_key_fails_with_authorization_error(self):
        started = time.monotonic()
        with make_client(key="wrong-key") as client:
            with self.assertRaises(
                (ServiceBusAuthenticationError, ServiceBusAuthorizationError)
            ) as caught:
                with client.get_queue_sender("orders") as sender:
                    sender.send_messages(ServiceBusMessage("nope"))
        self.assertIn("401", str(caught.exception) + repr(caught.exception.__dict__))
        # A bound on hanging, not a timing check: the SDK's own auth timeout is 60 s.
        self.assertLess(time.monotonic() - started, 50)

    def test_unknown_queue_fails_with_not_found(self):
        with make_client() as client:
            # azure-servicebus 7.8.2 reports amqp:not-found on a link detach as a
            # ServiceBusCommunicationError because uamqp's LinkDetach is a connection error.
            with self.assertRaises(
                (MessagingEntityNotFoundError, ServiceBusCommunicationError)
            ) as caught:
                with client.get_queue_sender("no-such-queue") as sender:
                    sender.send_messages(ServiceBusMessage("lost"))
        self.assertIn("ErrorCodes.NotFound", str(caught.exception))
        self.assertIn("no-such-queue", str(caught.exception))

    def test_oversize_message_is_rejected(self):
        with make_client() as client:
            with client.get_queue_sender("test-queue") as sender:
                with self.assertRaises((MessageSizeExceededError, ServiceBusError)) as caught:
                    sender.send_messages(ServiceBusMessage(b"a" * (300 * 1024)))
        self.assertNotIsInstance(caught.exception, ServiceBusConnectionError)

    def test_session_receiver_fails_at_once(self):
        # The emulator has no sessions, so the attach is rejected with amqp:not-allowed.
        started = time.monotonic()
        with make_client() as client:
            with self.assertRaises(ServiceBusError) as caught:
                with client.get_queue_receiver("orders", session_id="session-1") as receiver:
                    receiver.receive_messages(max_message_count=1, max_wait_time=5)
        self.assertIn("does not require sessions", str(caught.exception))
        self.assertLess(time.monotonic() - started, 30)


if __name__ == "__main__":
    unittest.main()
