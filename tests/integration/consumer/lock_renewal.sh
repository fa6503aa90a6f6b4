#!/usr/bin/env bash
# Writes that keep failing for longer than the queue's 2 s lock: the consumer renews each lock
# through $management while it retries, so every message is stored and completed on its
# first delivery (deliveryCount 1 in every document).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# The first 12 writes get 503: with credit 2 the first two messages retry about six times
# each, with backoff from 100 ms, for several seconds.
consumer_test_setup --fault-503-first 12

seed short-lock 10 "$test_dir/expected.json"
start_consumer short-lock "$test_dir/consumer.log" --concurrency 2 --prefetch 0
wait_until 120 queue_drained short-lock 6 || fail "the queue was not drained"
renewals="$(metric consumer_lock_renewals_total)"
lost="$(metric consumer_locks_lost_total)"
echo "lock renewals: $renewals, locks lost: $lost"
((renewals > 0)) || fail "no lock was renewed"
[[ "$lost" == 0 ]] || fail "$lost locks were lost"
# Every one of the 12 injected 503s was retried, and no write gave up.
retries_503="$(metric 'consumer_cosmos_retries_total{cause="503"}')"
[[ "$retries_503" == 12 ]] || fail "$retries_503 retries after 503, expected 12"
for counter in consumer_messages_abandoned_total consumer_reconnects_total; do
    [[ "$(metric "$counter")" == 0 ]] || fail "$counter is $(metric "$counter"), expected 0"
done
stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"

node "$root/tests/lib/cosmos_count.js" dump >"$test_dir/documents.json" || fail "reading documents failed"
/usr/bin/python3 - "$test_dir/documents.json" <<'PY' || fail "a message was delivered more than once"
import json, sys
documents = json.load(open(sys.argv[1]))
counts = sorted({d["deliveryCount"] for d in documents})
print(f"{len(documents)} documents, delivery counts {counts}")
sys.exit(0 if len(documents) == 10 and counts == [1] else 1)
PY
check_end_state short-lock "$test_dir/expected.json"
echo "lock_renewal: ok"
