#!/usr/bin/env bash
# Invalid configuration makes the consumer exit 2 with a message that names the setting and
# the value, before it connects anywhere.
set -euo pipefail
bin="${CONSUMER_BIN:?set CONSUMER_BIN to the consumer binary}"
failures=0
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/port_holder.sh"
work_dir="$(mktemp -d)"
trap 'port_holder_stop; rm -rf "$work_dir"' EXIT

# expect_exit_2 PATTERN VAR=VALUE... -- FLAG...: runs the consumer with the base settings
# overridden and checks the exit status and that stderr matches PATTERN.
expect_exit_2() {
    local pattern="$1"
    shift
    local env_args=()
    while [[ $# -gt 0 && "$1" != -- ]]; do
        env_args+=("$1")
        shift
    done
    [[ $# -gt 0 ]] && shift
    local status=0 output
    # The bound turns a consumer that starts instead of rejecting its settings into a failure.
    output="$(timeout 60 env -i PATH="$PATH" SERVICEBUS_CONNECTION_STRING="Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true" \
        SERVICEBUS_QUEUE=orders COSMOS_ENDPOINT=https://127.0.0.1:1 COSMOS_KEY=a2V5 HEALTH_BIND=127.0.0.1 HEALTH_PORT=0 \
        "${env_args[@]}" "$bin" "$@" 2>&1)" || status=$?
    if [[ "$status" != 2 ]] || ! grep -q -- "$pattern" <<<"$output"; then
        echo "FAIL: ${env_args[*]} $* exited $status with: $output"
        failures=$((failures + 1))
    fi
}

expect_exit_2 'CONSUMER_CONCURRENCY' CONSUMER_CONCURRENCY=0 --
expect_exit_2 '"-3"' -- --prefetch -3
expect_exit_2 'SERVICEBUS_RCV_SETTLE_MODE' SERVICEBUS_RCV_SETTLE_MODE=third --
expect_exit_2 'SERVICEBUS_AUTH' SERVICEBUS_AUTH=kerberos --
expect_exit_2 'COSMOS_PARTITION_KEY_PATH' COSMOS_PARTITION_KEY_PATH=/nested/path --
expect_exit_2 'SHUTDOWN_GRACE_SECONDS' SHUTDOWN_GRACE_SECONDS=soon --
expect_exit_2 'COSMOS_ENDPOINT' COSMOS_ENDPOINT= --
expect_exit_2 'invalid value "ftp://example" for --cosmos-endpoint (COSMOS_ENDPOINT)' \
    COSMOS_ENDPOINT=ftp://example --
expect_exit_2 'invalid value "https://" for --cosmos-endpoint (COSMOS_ENDPOINT)' \
    COSMOS_ENDPOINT=https:// --
expect_exit_2 'invalid value "https://127.0.0.1:1/ space" for --cosmos-endpoint' \
    'COSMOS_ENDPOINT=https://127.0.0.1:1/ space' --
expect_exit_2 '/destStamp" for --partition-key-path (COSMOS_PARTITION_KEY_PATH): destStamp changes' \
    COSMOS_PARTITION_KEY_PATH=/destStamp --
expect_exit_2 'invalid value for --cosmos-key (COSMOS_KEY), 11 characters (not shown): expected standard base64' \
    COSMOS_KEY='not base64!' --
expect_exit_2 'SERVICEBUS_CONNECTION_STRING' SERVICEBUS_CONNECTION_STRING= --
expect_exit_2 'SERVICEBUS_QUEUE' SERVICEBUS_QUEUE= --
expect_exit_2 'invalid value "a b/$management" for --queue (SERVICEBUS_QUEUE): byte 1 is a space' \
    'SERVICEBUS_QUEUE=a b/$management' --
expect_exit_2 'SERVICEBUS_ALLOW_INSECURE_PLAIN' SERVICEBUS_AUTH=plain --
expect_exit_2 'unknown option --servicebus-ca-file' -- --servicebus-ca-file /dev/null

# Errors of the options are one plain line on stderr, before logging starts. A key that is not
# base64 and an id that the Cosmos client rejects are found there too, not in a later JSON
# start-failed line. The key never appears.
for setting in 'COSMOS_KEY=not base64!' 'COSMOS_DATABASE=a b'; do
    status=0
    output="$(timeout 60 env -i PATH="$PATH" SERVICEBUS_CONNECTION_STRING="Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true" \
        SERVICEBUS_QUEUE=orders COSMOS_ENDPOINT=https://127.0.0.1:1 COSMOS_KEY=a2V5 HEALTH_PORT=-1 \
        "$setting" "$bin" 2>&1)" || status=$?
    lines="$(wc -l <<<"$output")"
    if [[ "$status" != 2 || "$lines" != 1 || "$output" != "consumer: invalid value "* ]]; then
        echo "FAIL: $setting exited $status with $lines lines: $output"
        failures=$((failures + 1))
    fi
    if grep -q 'not base64!' <<<"$output"; then
        echo "FAIL: the message shows the Cosmos key: $output"
        failures=$((failures + 1))
    fi
done

# Values that used to pass the parser and fail only when used, with exit 1.
expect_exit_2 'invalid value "999.1.1.1" for --health-bind (HEALTH_BIND)' HEALTH_BIND=999.1.1.1 --
expect_exit_2 'for --health-bind (HEALTH_BIND)' HEALTH_BIND=localhost -- --check --health-port 9
expect_exit_2 'cannot read the file "/nonexistent/ca.pem" of --ca-file (SERVICEBUS_CA_FILE)' \
    SERVICEBUS_CA_FILE=/nonexistent/ca.pem --
expect_exit_2 'invalid value "a/b" for --cosmos-database (COSMOS_DATABASE)' COSMOS_DATABASE=a/b --
expect_exit_2 'invalid value "a b" for --cosmos-database (COSMOS_DATABASE): byte 1 is a space' \
    'COSMOS_DATABASE=a b' --
expect_exit_2 "invalid value \"$(printf 'c%.0s' {1..40})...\" for --cosmos-container (COSMOS_CONTAINER): it has 256 bytes" \
    "COSMOS_CONTAINER=$(printf 'c%.0s' {1..256})" --
expect_exit_2 'invalid value "" for --cosmos-container (COSMOS_CONTAINER)' -- --cosmos-container=
expect_exit_2 'cannot read the file "/nonexistent/token" of AZURE_FEDERATED_TOKEN_FILE' \
    COSMOS_KEY= AZURE_TENANT_ID=t AZURE_CLIENT_ID=c AZURE_FEDERATED_TOKEN_FILE=/nonexistent/token --
# se=1700000000 is 2023-11-14T22:13:20Z; the signature itself is never checked locally.
expect_exit_2 'expired at 2023-11-14T22:13:20.000Z' \
    "SERVICEBUS_CONNECTION_STRING=Endpoint=sb://127.0.0.1:1;SharedAccessSignature=SharedAccessSignature sr=sb%3A%2F%2F127.0.0.1%2Forders&sig=abc%3D&se=1700000000&skn=k;UseDevelopmentEmulator=true" --

# TLS to an IP address cannot pass Proton-C's certificate name check, so it is rejected at start.
expect_exit_2 'invalid Service Bus host \[::1\] in --connection-string (SERVICEBUS_CONNECTION_STRING): TLS needs a DNS name' \
    "SERVICEBUS_CONNECTION_STRING=Endpoint=sb://[::1]:5671;SharedAccessKeyName=k;SharedAccessKey=v" --

# A health port that another process uses is named in the error with the settings to change.
port_holder_start "$work_dir"
expect_exit_2 "cannot listen for health checks on 127.0.0.1:$PORT_HOLDER_PORT: Address already in use; choose another --health-port (HEALTH_PORT)" \
    HEALTH_PORT="$PORT_HOLDER_PORT" --
port_holder_stop

# One rule for durations: a bare number is seconds. SHUTDOWN_GRACE_SECONDS, the older name of
# CONSUMER_SHUTDOWN_GRACE, takes whole seconds only.
expect_exit_2 'invalid value "10000" for --cosmos-timeout (COSMOS_REQUEST_TIMEOUT)' \
    COSMOS_REQUEST_TIMEOUT=10000 --
expect_exit_2 'for SHUTDOWN_GRACE_SECONDS: expected a whole number of seconds' \
    SHUTDOWN_GRACE_SECONDS=30s --
expect_exit_2 'CONSUMER_SHUTDOWN_GRACE' CONSUMER_SHUTDOWN_GRACE=soon --

# Plain-text endpoints that carry credentials are accepted, for local test servers, with one
# warning each at start that never shows the key. Nothing listens on port 1, so the consumer
# exits 1 at --give-up-after.
status=0
output="$(timeout 60 env -i PATH="$PATH" SERVICEBUS_CONNECTION_STRING="Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true" \
    SERVICEBUS_QUEUE=orders COSMOS_ENDPOINT=http://127.0.0.1:1 COSMOS_KEY=c2VjcmV0LWtleQ== HEALTH_PORT=-1 \
    SERVICEBUS_GIVE_UP_AFTER=1s "$bin" 2>&1)" || status=$?
cosmos_warnings="$(grep -c '"level":"warn".*"event":"unencrypted-credential".*COSMOS_ENDPOINT' <<<"$output" || true)"
servicebus_warnings="$(grep -c '"level":"warn".*"event":"unencrypted-credential".*CBS tokens' <<<"$output" || true)"
if [[ "$status" != 1 || "$cosmos_warnings" != 1 || "$servicebus_warnings" != 1 ]]; then
    echo "FAIL: plain-text endpoints exited $status with $cosmos_warnings Cosmos and $servicebus_warnings Service Bus warnings: $output"
    failures=$((failures + 1))
fi
if grep -q 'c2VjcmV0LWtleQ' <<<"$output"; then
    echo "FAIL: the log shows the Cosmos key: $output"
    failures=$((failures + 1))
fi
# Over https:// there is no Cosmos warning.
output="$(timeout 60 env -i PATH="$PATH" SERVICEBUS_CONNECTION_STRING="Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true" \
    SERVICEBUS_QUEUE=orders COSMOS_ENDPOINT=HTTPS://127.0.0.1:1 COSMOS_KEY=c2VjcmV0LWtleQ== HEALTH_PORT=-1 \
    SERVICEBUS_GIVE_UP_AFTER=1s "$bin" 2>&1)" || true
if grep -q '"event":"unencrypted-credential".*COSMOS_ENDPOINT' <<<"$output"; then
    echo "FAIL: an https endpoint gave the plain HTTP warning: $output"
    failures=$((failures + 1))
fi

if ((failures > 0)); then
    exit 1
fi
echo "bad_config: ok"
