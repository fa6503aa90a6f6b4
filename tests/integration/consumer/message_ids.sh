#!/usr/bin/env bash
# Message-ids that cannot be a Cosmos DB document id unchanged: a string id with NUL, and ids
# with '/', '\', '?' or '#'. The consumer must dead-letter each with InvalidMessageId, store
# nothing for it, and leave the document of the id before the NUL as its own message wrote
# it. A numeric id and the string of its digits end in one document. @azure/service-bus seeds
# the messages and @azure/cosmos and the dead-letter subqueue show the outcome.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup

queue=orders
expected="$test_dir/expected.json"

all_settled() {
    local completed dead_lettered
    completed="$(metric consumer_messages_completed_total)"
    dead_lettered="$(metric consumer_messages_dead_lettered_total)"
    [[ "$(queue_count "$queue" ActiveMessageCount)" == 0 ]] && ((completed + dead_lettered == total))
}

node "$here/message_ids.js" seed "$queue" "$expected" || fail "seeding $queue failed"
total="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).total)' \
    "$expected")"
start_consumer "$queue" "$test_dir/consumer.log" --cosmos-ca-file "$COSMOS_CA_FILE"
wait_until 120 all_settled || fail "the consumer did not settle every message of $queue"
dead_lettered="$(metric consumer_messages_dead_lettered_total)"
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS"
node "$here/message_ids.js" check "$queue" "$expected" ||
    fail "the documents or dead letters are wrong"
[[ "$dead_lettered" == 6 ]] || fail "the consumer dead-lettered $dead_lettered messages, expected 6"

# The log names each dead-lettered message by its whole id, with NUL written as \0 and a
# backslash as \\, never by the text before the NUL, which is another message's id.
node - "$expected" "$test_dir/consumer.log" <<'JS' || fail "the log does not name every id whole"
const fs = require("fs");
const expected = JSON.parse(fs.readFileSync(process.argv[2]));
const logged = [];
for (const line of fs.readFileSync(process.argv[3], "utf8").split("\n")) {
  const entry = line.startsWith("{") ? JSON.parse(line) : {};
  if (entry.event === "message-dead-lettered") {
    logged.push(entry.msg);
  }
}
let missing = 0;
for (const dead of expected.dead) {
  const escaped = dead.id.replaceAll("\\", "\\\\").replaceAll("\u0000", "\\0");
  const prefix = `message ${escaped} dead-lettered:`;
  if (!logged.some((msg) => msg.startsWith(prefix))) {
    console.error(`no log line starts with ${JSON.stringify(prefix)}`);
    missing++;
  }
}
process.exit(missing ? 1 : 0);
JS
echo "message_ids: ok"
