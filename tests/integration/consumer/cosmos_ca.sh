#!/usr/bin/env bash
# The Cosmos CA file (COSMOS_CA_FILE, --cosmos-ca-file). A file that is missing, unreadable,
# a directory, or contains no PEM certificate is bad configuration: the consumer exits 2 with
# a message that names the setting and the path. A readable CA that does not sign the server's
# certificate can only show at the first TLS handshake: the consumer then stays not ready and
# logs the cause at warn with curl's error text, once for repeats inside a minute.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
consumer_test_setup

# expect_exit_2 CA_FILE TEXT: the consumer exits 2 and its output names the setting, the path
# and TEXT.
expect_exit_2() {
    local ca_file="$1" text="$2" status=0 output
    output="$(SERVICEBUS_CONNECTION_STRING="$EMULATOR_CONNECTION_STRING" SERVICEBUS_QUEUE=orders \
        HEALTH_BIND=127.0.0.1 HEALTH_PORT=0 COSMOS_CA_FILE="$ca_file" \
        timeout 30 "$CONSUMER_BIN" 2>&1)" || status=$?
    [[ "$status" == 2 ]] || fail "CA file $ca_file: exit status $status, expected 2; output: $output"
    for expected in COSMOS_CA_FILE --cosmos-ca-file "$ca_file" "$text"; do
        grep -qF -- "$expected" <<<"$output" ||
            fail "CA file $ca_file: the output does not contain '$expected': $output"
    done
}

expect_exit_2 "$test_dir/missing.pem" "No such file or directory"
expect_exit_2 "$test_dir" "not a regular file"
: >"$test_dir/empty.pem"
expect_exit_2 "$test_dir/empty.pem" "no PEM certificate"
expect_exit_2 "$test_dir/cosmos/server.key" "no PEM certificate"
cp "$COSMOS_CA_FILE" "$test_dir/unreadable.pem"
chmod 000 "$test_dir/unreadable.pem"
# root reads any file whatever its mode, so this case only means something for other users.
if ! [[ -r "$test_dir/unreadable.pem" ]]; then
    expect_exit_2 "$test_dir/unreadable.pem" "Permission denied"
fi

# A valid CA that did not sign the server's certificate.
"$root/tests/lib/ca.sh" "$test_dir/other-ca" || fail "making the second test CA failed"
log="$test_dir/consumer-wrong-ca.log"
LOG_LEVEL=debug start_consumer orders "$log" --cosmos-ca-file "$test_dir/other-ca/ca.crt"

# The writer's backoff spaces three failed checks about 0.5 s and 1 s apart. The 30 s bound
# keeps the wait inside the one-minute window in which a repeat is not logged at warn again.
not_ready_lines() {
    grep '"event":"cosmos-not-ready"' "$log" || true
}
three_failures() {
    (($(not_ready_lines | wc -l) >= 3))
}
wait_until 30 three_failures || fail "the consumer did not report three failed Cosmos checks"
warn_lines="$(not_ready_lines | grep -c '"level":"warn"' || true)"
[[ "$warn_lines" == 1 ]] || fail "$warn_lines warn lines for one repeated cause, expected 1"
not_ready_lines | grep '"level":"warn"' | grep -q 'SSL certificate problem' ||
    fail "the warn line does not carry curl's error text"
readyz="$(http_get "http://127.0.0.1:$CONSUMER_HEALTH_PORT/readyz")"
grep -q 'SSL certificate problem' <<<"$readyz" || fail "/readyz does not say why: $readyz"
stop_consumer TERM
echo "cosmos_ca: ok"
