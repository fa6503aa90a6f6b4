#!/usr/bin/env bash
# The command line without any peer. --help lists the options with units and variables and
# exits 0. Each kind of invalid configuration exits 2 with a message that names the flag or
# variable and what is expected, and that never echoes a secret.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

help="$("$PRODUCER_BIN" --help)" || fail "--help exited $?"
for expected in "--count N" "Unit: messages/s." "Env: SERVICEBUS_CONNECTION_STRING." \
    "--duration DURATION" "Default: 1000." "--check [BOOL]" "--auth TEXT" \
    "Env: HEALTH_PORT." "Env: SERVICEBUS_CA_FILE."; do
    grep -qF -- "$expected" <<<"$help" || fail "--help lacks \"$expected\""
done

# The heading has the consumer's form: "usage: PROGRAM ...".
[[ "$(head -n 1 <<<"$help")" == "usage: producer "* ]] ||
    fail "--help starts with \"$(head -n 1 <<<"$help")\", expected \"usage: producer ...\""

emulator="Endpoint=sb://localhost;SharedAccessKeyName=k;SharedAccessKey=topsecret-key;UseDevelopmentEmulator=true"
# Each case: the arguments, then the text the error must contain.
check_invalid() {
    local expected="$1"
    shift
    local status=0 output
    output="$("$PRODUCER_BIN" "$@" 2>&1 >/dev/null)" || status=$?
    [[ "$status" == 2 ]] || fail "$* exited $status, expected 2"
    grep -qF -- "$expected" <<<"$output" || fail "$* printed \"$output\", expected \"$expected\""
    if grep -q 'topsecret' <<<"$output"; then
        fail "$* leaked the key: $output"
    fi
}
check_invalid 'invalid value "-5" for --count (PRODUCER_COUNT): expected an integer from 0' --count -5
check_invalid 'invalid value "fast" for --rate (PRODUCER_RATE)' --rate fast
check_invalid 'for --duration (PRODUCER_DURATION): expected a duration' --duration soon
check_invalid 'unknown option --colour' --colour red
check_invalid 'missing Service Bus settings: set --connection-string' --queue q
check_invalid 'no queue: set --queue (SERVICEBUS_QUEUE)' --connection-string "$emulator"
check_invalid 'keep one' --connection-string "$emulator" --namespace ns --queue q
check_invalid 'no SharedAccessKey for key name' \
    --connection-string "Endpoint=sb://h;SharedAccessKeyName=k" --queue q
check_invalid 'invalid value "maybe" for --progress' --connection-string "$emulator" --queue q \
    --progress maybe
check_invalid 'AZURE_TENANT_ID is not set' --namespace ns --queue q
check_invalid 'invalid value "kerberos" for --auth (SERVICEBUS_AUTH): expected cbs, plain or none' \
    --connection-string "$emulator" --queue q --auth kerberos
check_invalid 'invalid value "maybe" for --allow-insecure-plain (SERVICEBUS_ALLOW_INSECURE_PLAIN): expected true or false' \
    --connection-string "$emulator" --queue q --allow-insecure-plain maybe
check_invalid 'invalid value "maybe" for --allow-insecure-plain (SERVICEBUS_ALLOW_INSECURE_PLAIN): expected true or false' \
    --connection-string "$emulator" --queue q --allow-insecure-plain=maybe
check_invalid '--queue (SERVICEBUS_QUEUE) is "b" but the connection string'"'"'s EntityPath is "a"' \
    --connection-string "$emulator;EntityPath=a" --queue b
status=0
output="$(SERVICEBUS_QUEUE=b "$PRODUCER_BIN" --connection-string "$emulator;EntityPath=a" 2>&1 >/dev/null)" ||
    status=$?
[[ "$status" == 2 ]] || fail "EntityPath=a with SERVICEBUS_QUEUE=b exited $status, expected 2"
grep -qF 'EntityPath is "a"' <<<"$output" || fail "EntityPath=a with SERVICEBUS_QUEUE=b printed \"$output\""
check_invalid 'invalid value "262144" for --body-size (PRODUCER_BODY_SIZE): expected an integer from 0 to 262069' \
    --connection-string "$emulator" --queue q --body-size 262144
check_invalid 'unknown option --cbs' --connection-string "$emulator" --queue q --cbs=false
check_invalid '--check needs the port of the running instance' --check
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/port_holder.sh"
trap 'port_holder_stop; producer_test_cleanup' EXIT
port_holder_start "$PRODUCER_TEST_DIR"
check_invalid "cannot listen for health checks on 127.0.0.1:$PORT_HOLDER_PORT: Address already in use; choose another --health-port (HEALTH_PORT)" \
    --connection-string "$emulator" --queue q --health-bind 127.0.0.1 --health-port "$PORT_HOLDER_PORT"
port_holder_stop

# Values that used to pass the parser and fail only at the first connection, with exit 1.
check_invalid 'invalid value "999.1.1.1" for --health-bind (HEALTH_BIND): expected an IPv4 address' \
    --connection-string "$emulator" --queue q --health-port 0 --health-bind 999.1.1.1
check_invalid 'for --health-bind (HEALTH_BIND)' --check --health-port 9 --health-bind localhost
check_invalid 'cannot read the file "/nonexistent/ca.pem" of --ca-file (SERVICEBUS_CA_FILE)' \
    --connection-string "$emulator" --queue q --ca-file /nonexistent/ca.pem
check_invalid 'the file "/dev/null" of --ca-file (SERVICEBUS_CA_FILE) contains no PEM certificate' \
    --connection-string "$emulator" --queue q --ca-file /dev/null
# se=1700000000 is 2023-11-14T22:13:20Z; the signature itself is never checked locally.
expired="Endpoint=sb://localhost;SharedAccessSignature=SharedAccessSignature sr=sb%3A%2F%2Flocalhost%2Fq&sig=abc%3D&se=1700000000&skn=k;UseDevelopmentEmulator=true"
check_invalid 'SharedAccessSignature in --connection-string (SERVICEBUS_CONNECTION_STRING) expired at 2023-11-14T22:13:20.000Z' \
    --connection-string "$expired" --queue q
# One rule for durations: a bare number is seconds, so 5000 is outside 0.1 s to 3600 s.
check_invalid 'invalid value "5000" for --send-timeout (PRODUCER_SEND_TIMEOUT): expected a duration such as 500ms, 30s, 5m or 1h (a bare number is seconds) in whole milliseconds, from 100ms to 1h' \
    --connection-string "$emulator" --queue q --send-timeout 5000

check_invalid 'invalid value "" for --queue (SERVICEBUS_QUEUE): expected a non-empty value' \
    --connection-string "$emulator" --queue=
# Queue names follow Service Bus's naming rule, from --queue and from EntityPath alike.
check_invalid 'invalid value "a b/$management" for --queue (SERVICEBUS_QUEUE): byte 1 is a space; a Service Bus queue name has 1 to 260 letters' \
    --connection-string "$emulator" --queue 'a b/$management'
check_invalid 'invalid value "orders/" for EntityPath in --connection-string (SERVICEBUS_CONNECTION_STRING): it does not start and end with a letter or digit' \
    --connection-string "$emulator;EntityPath=orders/"

# Workload identity reads the federated token file at start.
status=0
output="$(AZURE_TENANT_ID=t AZURE_CLIENT_ID=c AZURE_FEDERATED_TOKEN_FILE=/nonexistent/token \
    "$PRODUCER_BIN" --namespace ns --queue q 2>&1 >/dev/null)" || status=$?
[[ "$status" == 2 ]] || fail "a missing token file exited $status, expected 2"
grep -qF 'cannot read the file "/nonexistent/token" of AZURE_FEDERATED_TOKEN_FILE' <<<"$output" ||
    fail "a missing token file printed \"$output\""

# The same through the environment: the message names the variable.
status=0
output="$(PRODUCER_INFLIGHT=0 "$PRODUCER_BIN" 2>&1 >/dev/null)" || status=$?
[[ "$status" == 2 ]] || fail "PRODUCER_INFLIGHT=0 exited $status, expected 2"
grep -qF 'for --inflight (PRODUCER_INFLIGHT): expected an integer from 1 to 1000000' <<<"$output" ||
    fail "PRODUCER_INFLIGHT=0 printed \"$output\""

# An invalid Service Bus setting is one plain line on stderr and nothing on stdout, as every
# other configuration error is, and as the consumer prints it.
status=0
"$PRODUCER_BIN" --queue q >"$PRODUCER_TEST_DIR/missing.out" 2>"$PRODUCER_TEST_DIR/missing.err" ||
    status=$?
[[ "$status" == 2 ]] || fail "a run without Service Bus settings exited $status, expected 2"
[[ ! -s "$PRODUCER_TEST_DIR/missing.out" ]] ||
    fail "a run without Service Bus settings wrote to stdout: $(cat "$PRODUCER_TEST_DIR/missing.out")"
count="$(grep -c 'missing Service Bus settings' "$PRODUCER_TEST_DIR/missing.err" || true)"
[[ "$count" == 1 ]] ||
    fail "the missing Service Bus settings were reported $count times: $(cat "$PRODUCER_TEST_DIR/missing.err")"
grep -qx 'producer: missing Service Bus settings: .*' "$PRODUCER_TEST_DIR/missing.err" ||
    fail "the error is not one plain line: $(cat "$PRODUCER_TEST_DIR/missing.err")"

# The effective configuration is logged once with the secret masked. Nothing listens on the
# port, so the run ends at --give-up-after.
status=0
closed_port="$(free_port)"
SERVICEBUS_CONNECTION_STRING="Endpoint=sb://127.0.0.1:$closed_port;SharedAccessKeyName=k;SharedAccessKey=topsecret-key;UseDevelopmentEmulator=true" \
    "$PRODUCER_BIN" --queue q --count 1 --give-up-after 100ms --progress off \
    >"$PRODUCER_TEST_DIR/config.log" 2>&1 || status=$?
[[ "$status" == 1 ]] || fail "a run against a closed port exited $status, expected 1"
[[ "$(grep -c '"event":"configuration"' "$PRODUCER_TEST_DIR/config.log")" == 1 ]] ||
    fail "the configuration was not logged once"
grep -q '"event":"configuration".*"connection-string":"\*\*\*"' "$PRODUCER_TEST_DIR/config.log" ||
    fail "the configuration line does not mask the connection string"
grep -q topsecret "$PRODUCER_TEST_DIR/config.log" && fail "the log contains the key"
# The development emulator's plain TCP carries the CBS tokens unencrypted, so the producer logs
# one warning about it.
[[ "$(grep -c '"level":"warn".*"event":"unencrypted-credential".*CBS tokens' "$PRODUCER_TEST_DIR/config.log")" == 1 ]] ||
    fail "plain TCP with CBS did not give one unencrypted-credential warning"
echo "configuration errors are named and exit 2"

# A full window of large messages may not fit a pod: the producer warns at start with its
# estimate. Nothing listens on the port, so each run ends at --give-up-after.
closed_port="$(free_port)"
unreachable="Endpoint=sb://127.0.0.1:$closed_port;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true"
"$PRODUCER_BIN" --connection-string "$unreachable" --queue q --count 1 --give-up-after 100ms \
    --progress off --body-size 262069 >"$PRODUCER_TEST_DIR/large.log" 2>&1 || true
warning="$(grep '"event":"memory-bound"' "$PRODUCER_TEST_DIR/large.log")" ||
    fail "1000 messages of 262144 bytes in flight gave no memory warning"
grep -qF -- '--inflight 1000 on 1 connection with 262144-byte messages may use about 812 MiB' \
    <<<"$warning" || fail "the memory warning does not state the window and estimate: $warning"
"$PRODUCER_BIN" --connection-string "$unreachable" --queue q --count 1 --give-up-after 100ms \
    --progress off >"$PRODUCER_TEST_DIR/small.log" 2>&1 || true
if grep -q '"event":"memory-bound"' "$PRODUCER_TEST_DIR/small.log"; then
    fail "the default window of small messages gave a memory warning"
fi
grep -q '"event":"summary"' "$PRODUCER_TEST_DIR/small.log" || fail "the run without a warning did not run"
echo "a window of large messages is warned about"
