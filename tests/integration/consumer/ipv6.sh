#!/usr/bin/env bash
# The consumer reaches Service Bus and Cosmos DB by IPv6 address: Endpoint=sb://[::1]:PORT over
# plain TCP (TLS needs a DNS name for Proton-C) and COSMOS_ENDPOINT=https://[::1]:PORT, whose
# certificate lists IP ::1. Two TCP proxies on ::1 forward to the emulator and the Cosmos test
# server, which stay on 127.0.0.1. There the suite's seed and check tools reach them as in every
# other test, including the emulator's admin API. Exits 77 (skipped) when the host has no IPv6
# loopback address.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! ip -6 addr show lo 2>/dev/null | grep -q 'inet6 ::1/128'; then
    echo "skipped: no IPv6 loopback address ::1"
    exit 77
fi

consumer_test_setup
seed orders 300 "$test_dir/expected.json"

mkdir -p "$test_dir/amqp-proxy" "$test_dir/cosmos-proxy"
tcp_proxy_start "$test_dir/amqp-proxy" "$EMULATOR_AMQP_PORT" --listen ::1 ||
    fail "the AMQP proxy on ::1 did not start"
OTHER_PIDS+=("$TCP_PROXY_PID")
amqp_port=$TCP_PROXY_PORT
tcp_proxy_start "$test_dir/cosmos-proxy" "${COSMOS_ENDPOINT##*:}" --listen ::1 ||
    fail "the Cosmos proxy on ::1 did not start"
OTHER_PIDS+=("$TCP_PROXY_PID")
cosmos_port=$TCP_PROXY_PORT

EMULATOR_CONNECTION_STRING="Endpoint=sb://[::1]:$amqp_port;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true" \
    COSMOS_ENDPOINT="https://[::1]:$cosmos_port" start_consumer orders "$test_dir/consumer.log"
wait_until 120 queue_drained orders 6 || fail "the queue was not drained over IPv6"
wait_until 30 consumer_ready || fail "the consumer never reported ready"
expect_no_failures

# Both proxies saw the consumer connect from ::1, so every message went over IPv6 both ways.
for proxy in amqp-proxy cosmos-proxy; do
    grep -q '^connection [0-9]* from ::1$' "$test_dir/$proxy/proxy.log" ||
        fail "the $proxy saw no connection from ::1: $(cat "$test_dir/$proxy/proxy.log")"
done
grep -q "\"event\":\"amqp-connected\".*connected to \[::1\]:$amqp_port " "$test_dir/consumer.log" ||
    fail "the connect line does not name [::1]:$amqp_port: $(grep '"event":"amqp-connected"' "$test_dir/consumer.log")"

stop_consumer TERM
[[ "$CONSUMER_STATUS" == 0 ]] || fail "the consumer exited with $CONSUMER_STATUS after SIGTERM"
check_end_state orders "$test_dir/expected.json"
echo "ipv6: ok"
