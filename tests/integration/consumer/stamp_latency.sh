#!/usr/bin/env bash
# consumer_end_to_end_seconds measures from each message's srcStamp, which the sender writes.
# A stamp one hour ahead of the consumer's clock must not count as a latency, and a negative
# value would land in the lowest bucket as if it were the fastest message: it is counted in
# consumer_stamps_in_future_total instead. A stamp from the year 2000 is observed as it is.
# All three messages are stored and completed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup

node - <<'JS' || fail "sending the messages failed"
const { ServiceBusClient } = require("@azure/service-bus");
const { formatStamp } = require(`${process.env.WORKLOAD_ROOT}/tests/lib/stamp`);
(async () => {
  const client = new ServiceBusClient(process.env.EMULATOR_CONNECTION_STRING);
  const sender = client.createSender("orders");
  const stamps = {
    "stamp-now": new Date(),
    "stamp-ahead": new Date(Date.now() + 3600 * 1000),
    "stamp-2000": new Date(Date.UTC(2000, 0, 1)),
  };
  await sender.sendMessages(Object.entries(stamps).map(([id, date]) => ({
    messageId: id,
    contentType: "application/json",
    body: { msg: `stamp test ${id}`, srcStamp: formatStamp(date) },
  })));
  await sender.close();
  await client.close();
})().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
JS

start_consumer orders "$test_dir/consumer.log" --concurrency 2 --prefetch 0
all_completed() { [[ "$(metric consumer_messages_completed_total 2>/dev/null)" == 3 ]]; }
wait_until 60 all_completed || fail "the consumer did not complete the 3 messages"

observed="$(metric consumer_end_to_end_seconds_count)"
ahead="$(metric consumer_stamps_in_future_total)"
sum="$(metric consumer_end_to_end_seconds_sum)"
echo "observed $observed, in future $ahead, sum $sum s"
[[ "$observed" == 2 ]] || fail "consumer_end_to_end_seconds counted $observed messages, expected 2"
[[ "$ahead" == 1 ]] || fail "consumer_stamps_in_future_total is $ahead, expected 1"
# 2000-01-01 is more than 26 years (8.2e8 s) before any run of this test.
awk -v sum="$sum" 'BEGIN { exit !(sum > 8.2e8) }' ||
    fail "the sum $sum does not include the stamp from the year 2000"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
[[ "$(queue_count orders ActiveMessageCount)" == 0 ]] || fail "messages are left in orders"
echo "stamp_latency: ok"
