#!/usr/bin/env bash
# Benchmarks the Service Bus emulator against RabbitMQ 3.10's AMQP 1.0 plugin with the same
# Proton-C client (amqp_bench): ingest of COUNT messages of SIZE bytes (unsettled sends, each
# accepted), then dispatch of them to one receiver (rcv-settle-mode first, each accepted), on
# loopback, ROUNDS times per broker. Not a test: it prints a Markdown table of the rates.
#
#   bench/emulator/run.sh [--build-dir DIR] [--count N] [--size BYTES] [--rounds N]
#
# DIR must hold Release builds of servicebus-emulator and amqp_bench (default build/bench,
# made here with cmake when missing). Brokers bind 127.0.0.1 on free ports and are stopped by
# PID when the script exits.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build_dir="$root/build/bench"
count=100000
size=200
rounds=3
while (($# > 0)); do
    case "$1" in
    --build-dir) build_dir="$2" ;;
    --count) count="$2" ;;
    --size) size="$2" ;;
    --rounds) rounds="$2" ;;
    *)
        echo "run.sh: unknown option \"$1\"; see the header of $0" >&2
        exit 2
        ;;
    esac
    shift 2
done

if [[ ! -x "$build_dir/tests/emulators/amqp_bench" ]]; then
    cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build_dir" --target servicebus-emulator amqp_bench -j "$(nproc)" >/dev/null
fi
client="$build_dir/tests/emulators/amqp_bench"
export SERVICEBUS_EMULATOR="$build_dir/tests/emulators/servicebus/servicebus-emulator"

# shellcheck source=../../tests/lib/emulator.sh
source "$root/tests/lib/emulator.sh"
# shellcheck source=../../tests/lib/rabbitmq.sh
source "$root/tests/lib/rabbitmq.sh"

work="$(mktemp -d)"
cleanup() {
    emulator_stop
    rabbitmq_stop
    rm -rf "$work"
}
trap cleanup EXIT

rate_of() {
    sed -n 's/.*"rate":\([0-9]*\).*/\1/p' <<<"$1"
}

# Runs one ingest and one dispatch round; prints "ingest dispatch" rates.
run_round() {
    local url="$1" address="$2"
    shift 2
    local sent received
    sent="$("$client" send --url "$url" --address "$address" --count "$count" --size "$size" "$@")"
    received="$("$client" receive --url "$url" --address "$address" --count "$count" "$@")"
    echo "$(rate_of "$sent") $(rate_of "$received")"
}

declare -a results=()

emulator_start "$work/emulator" --log-level warn
for ((round = 1; round <= rounds; round++)); do
    read -r ingest dispatch < <(run_round "127.0.0.1:$EMULATOR_AMQP_PORT" bench \
        --user RootManageSharedAccessKey --password SAS_KEY_VALUE)
    results+=("| servicebus-emulator | $round | $ingest | $dispatch |")
done
emulator_rss_kb="$(awk '/VmHWM/ {print $2}' "/proc/$EMULATOR_PID/status")"
emulator_stop

rabbitmq_start "$work/rabbitmq" bench
for ((round = 1; round <= rounds; round++)); do
    read -r ingest dispatch < <(run_round "127.0.0.1:$RABBITMQ_AMQP_PORT" "$RABBITMQ_ADDRESS" \
        --user "$RABBITMQ_USER" --password "$RABBITMQ_PASSWORD")
    results+=("| RabbitMQ $(dpkg-query -W -f '${Version}' rabbitmq-server) amqp1_0 | $round | $ingest | $dispatch |")
done
rabbitmq_stop

echo "$count messages of $size bytes per round, one connection each way, on $(nproc) cores ($(uname -m))."
echo "Emulator peak RSS: ${emulator_rss_kb} kB."
echo
echo "| broker | round | ingest msgs/s | dispatch msgs/s |"
echo "| --- | --- | --- | --- |"
printf '%s\n' "${results[@]}"
