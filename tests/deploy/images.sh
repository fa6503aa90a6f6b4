#!/usr/bin/env bash
# Builds the producer and consumer images with podman and runs them on loopback with
# --network host: the producer container sends a batch to the repository's Service Bus
# emulator, and the consumer container drains it into the Cosmos DB test server. Checks
# that each container runs as uid 10001, that its health check passes, that every message
# became one document, that the consumer stops cleanly on SIGTERM, and that each image is
# under 40 MB. Prints the image sizes and the consumer's peak RSS.
#
#   SERVICEBUS_EMULATOR=path/to/servicebus-emulator tests/deploy/images.sh CACHE_DIR
#
# CACHE_DIR keeps the debootstrap tree between runs. Exits 77 (skipped) only while the
# producer or consumer CMake target does not exist yet.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache_dir="${1:?usage: images.sh CACHE_DIR}"
export CONTAINERS_CONF="$here/containers.conf"

MESSAGES=400
MAX_IMAGE_BYTES=40000000
UID_EXPECTED=10001
# Bounds that only stop a hung run; no check depends on how fast anything is.
HEALTH_TRIES=60
DRAIN_TRIES=240

fail() {
    echo "images: FAIL: $*" >&2
    exit 1
}

for target in producer consumer; do
    if ! grep -q "add_executable($target " "$root/$target/CMakeLists.txt"; then
        echo "images: SKIP: the CMake target $target does not exist yet"
        exit 77
    fi
done
[[ "$(id -u)" == 0 ]] || fail "podman runs rootful here: run the test as root"
for tool in podman debootstrap node; do
    command -v "$tool" >/dev/null || fail "$tool is missing; run scripts/setup"
done
[[ -x "${SERVICEBUS_EMULATOR:-}" ]] ||
    fail "SERVICEBUS_EMULATOR must name the built servicebus-emulator binary (ctest sets it)"

work="$(mktemp -d)"
run_id="wl-test-$$"
producer_name="$run_id-producer"
consumer_name="$run_id-consumer"
# shellcheck source=tests/lib/emulator.sh
source "$root/tests/lib/emulator.sh"
# shellcheck source=tests/lib/cosmos.sh
source "$root/tests/lib/cosmos.sh"
# shellcheck source=tests/lib/port_holder.sh
source "$root/tests/lib/port_holder.sh"

cleanup() {
    local name
    for name in "$producer_name" "$consumer_name"; do
        podman rm --force --time 5 "$name" >/dev/null 2>&1 || true
    done
    emulator_stop
    cosmos_stop
    rm -rf "$work"
}
trap cleanup EXIT


# Prints the effective uid and gid (the second field of the Uid: and Gid: lines) of a
# running container's main process, read from the host's /proc.
container_ids() {
    local pid
    pid="$(podman inspect --format '{{.State.Pid}}' "$1")"
    awk '/^(Uid|Gid):/ { printf "%s ", $3 }' "/proc/$pid/status"
}

# Runs the container's health check until it passes; fails after HEALTH_TRIES attempts.
wait_healthy() {
    local name="$1" try
    for ((try = 0; try < HEALTH_TRIES; try++)); do
        if podman healthcheck run "$name" >/dev/null 2>&1; then
            echo "images: $name: health check passed"
            return 0
        fi
        if [[ "$(podman inspect --format '{{.State.Running}}' "$name")" != true ]]; then
            podman logs "$name" 2>&1 | tail -n 20 >&2
            fail "$name exited before its health check passed"
        fi
        sleep 0.5
    done
    podman logs "$name" 2>&1 | tail -n 20 >&2
    fail "$name: health check did not pass after $HEALTH_TRIES tries"
}

# Checks what the image declares: the numeric user, the health check, the port, no secrets.
check_image_config() {
    local image="$1" binary="$2" user health ports env
    user="$(podman image inspect --format '{{.Config.User}}' "$image")"
    [[ "$user" == "$UID_EXPECTED:$UID_EXPECTED" ]] || fail "$image runs as \"$user\", expected $UID_EXPECTED:$UID_EXPECTED"
    health="$(podman image inspect --format '{{json .Config.Healthcheck}}' "$image")"
    [[ "$health" == *"/usr/local/bin/$binary"*"--check"* ]] || fail "$image has no --check HEALTHCHECK: $health"
    ports="$(podman image inspect --format '{{json .Config.ExposedPorts}}' "$image")"
    [[ "$ports" == *'"8080/tcp"'* ]] || fail "$image does not expose 8080/tcp: $ports"
    env="$(podman image inspect --format '{{json .Config.Env}}' "$image")"
    if grep -Eiq 'KEY|SECRET|PASSWORD|CONNECTION_STRING|TOKEN' <<<"$env"; then
        fail "$image bakes a secret-looking variable into its environment: $env"
    fi
}

build_image() {
    local name="$1" image="localhost/event-workload/$1:test" log="$work/build-$1.log"
    echo "images: building $image"
    if ! podman build --pull=never --format docker --network host --layers \
        -f "$root/Dockerfile.$name" -t "$image" "$root" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        fail "podman build of Dockerfile.$name failed"
    fi
    check_image_config "$image" "$name"
}

"$here/base-images.sh" "$cache_dir"
build_image producer
build_image consumer

mkdir -p "$work/emulator" "$work/cosmos"
EMULATOR_CONFIG="$root/deploy/local/Config.json" emulator_start "$work/emulator"
cosmos_start "$work/cosmos"
export COSMOS_DATABASE=workload COSMOS_CONTAINER=results
node "$root/tests/lib/cosmos_count.js" init >/dev/null
# The well-known test key and connection string reach the containers as variables at run
# time only; the images themselves contain no credential.
cp "$COSMOS_CA_FILE" "$work/ca.crt"
chmod 0644 "$work/ca.crt"

# Without systemd, podman run reports that it cannot schedule periodic health checks. The
# test runs each check with podman healthcheck run, so that report goes to a log file.
consumer_port="$(free_port)"
podman run --detach --name "$consumer_name" --network host --read-only \
    --health-interval disable \
    --env SERVICEBUS_CONNECTION_STRING="$EMULATOR_CONNECTION_STRING" \
    --env SERVICEBUS_QUEUE=orders \
    --env COSMOS_ENDPOINT="$COSMOS_ENDPOINT" --env COSMOS_KEY="$COSMOS_KEY" \
    --env COSMOS_CA_FILE=/run/test-ca/ca.crt --volume "$work/ca.crt:/run/test-ca/ca.crt:ro" \
    --env COSMOS_DATABASE --env COSMOS_CONTAINER \
    --env HEALTH_PORT="$consumer_port" --env HEALTH_BIND=127.0.0.1 \
    localhost/event-workload/consumer:test >/dev/null 2>"$work/run-consumer.log" || {
    cat "$work/run-consumer.log" >&2
    fail "podman run of the consumer image failed"
}
wait_healthy "$consumer_name"
ids="$(container_ids "$consumer_name")"
[[ "$ids" == "$UID_EXPECTED $UID_EXPECTED " ]] || fail "the consumer runs with uid and gid $ids"
echo "images: consumer runs as uid and gid $ids"

# The producer's rate keeps it running long enough for its health check to run. The image's
# HEALTHCHECK runs --check, which probes the HEALTH_PORT and HEALTH_BIND given here.
producer_port="$(free_port)"
podman run --detach --name "$producer_name" --network host --read-only \
    --health-interval disable \
    --env SERVICEBUS_CONNECTION_STRING="$EMULATOR_CONNECTION_STRING" \
    --env SERVICEBUS_QUEUE=orders \
    --env PRODUCER_COUNT="$MESSAGES" --env PRODUCER_RATE=40 \
    --env HEALTH_PORT="$producer_port" --env HEALTH_BIND=127.0.0.1 \
    --env PRODUCER_PROGRESS=off \
    localhost/event-workload/producer:test >/dev/null 2>"$work/run-producer.log" || {
    cat "$work/run-producer.log" >&2
    fail "podman run of the producer image failed"
}
wait_healthy "$producer_name"
ids="$(container_ids "$producer_name")"
[[ "$ids" == "$UID_EXPECTED $UID_EXPECTED " ]] || fail "the producer runs with uid and gid $ids"
echo "images: producer runs as uid and gid $ids"
status="$(podman wait "$producer_name")"
if [[ "$status" != 0 ]]; then
    podman logs "$producer_name" 2>&1 | tail -n 20 >&2
    fail "the producer container exited with status $status"
fi
echo "images: producer container sent $MESSAGES messages and exited 0"

documents=0
for ((try = 0; try < DRAIN_TRIES; try++)); do
    documents="$(node "$root/tests/lib/cosmos_count.js" count)"
    ((documents >= MESSAGES)) && break
    sleep 0.5
done
if ((documents != MESSAGES)); then
    podman logs "$consumer_name" 2>&1 | tail -n 20 >&2
    fail "Cosmos holds $documents documents, expected $MESSAGES"
fi
unique="$(node "$root/tests/lib/cosmos_count.js" ids | sort -u | wc -l)"
((unique == MESSAGES)) || fail "Cosmos holds $unique distinct ids, expected $MESSAGES"
# shellcheck disable=SC2016 # a JavaScript template literal, not a shell expansion
active="$(node -e '
  fetch(`http://127.0.0.1:${process.argv[1]}/orders?api-version=2021-05`)
    .then((r) => r.text())
    .then((t) => console.log((/ActiveMessageCount>(\d+)</.exec(t) || [, "missing"])[1]));
' "$EMULATOR_HTTP_PORT")"
[[ "$active" == 0 ]] || fail "the emulator queue still has $active active messages"
echo "images: consumer container drained $MESSAGES messages into $documents documents"

# Every document holds what the consumer derives from its message, keyed by the message id.
node "$root/tests/lib/cosmos_count.js" dump >"$work/documents.json"
# shellcheck disable=SC2016 # JavaScript template literals, not shell expansions
node -e '
  const docs = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  const stamp = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/;
  const bad = docs.filter((d) => !uuid.test(d.id) || !/^Scale Test Message : COUNT \d+$/.test(d.data) ||
    !stamp.test(d.srcStamp) || !stamp.test(d.destStamp) || typeof d.messageProcessingTime !== "number");
  if (bad.length > 0) {
    console.error(`images: FAIL: ${bad.length} malformed documents, first: ${JSON.stringify(bad[0])}`);
    process.exit(1);
  }
' "$work/documents.json"

# The health port serves readiness and metrics too, which the Kubernetes probes and the
# metrics Service use.
for path in readyz metrics; do
    code="$(node -e '
      fetch(process.argv[1]).then((r) => console.log(r.status), () => console.log("unreachable"));
    ' "http://127.0.0.1:$consumer_port/$path")"
    [[ "$code" == 200 ]] || fail "GET /$path of the consumer returned $code, expected 200"
done
echo "images: documents are well formed; /readyz and /metrics answer 200"

pid="$(podman inspect --format '{{.State.Pid}}' "$consumer_name")"
peak_rss="$(awk '/^VmHWM:/ { print $2, $3 }' "/proc/$pid/status")"
# Fields 14 and 15 of /proc/PID/stat are user and system CPU time in clock ticks; the
# comm field before them has no spaces here (it is "consumer").
cpu_ms="$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$pid/stat")"
podman stop --time 60 "$consumer_name" >/dev/null 2>"$work/stop-consumer.log"
status="$(podman inspect --format '{{.State.ExitCode}}' "$consumer_name")"
[[ "$status" == 0 ]] || fail "the consumer exited with status $status after SIGTERM"
echo "images: consumer stopped on SIGTERM with status 0; peak RSS $peak_rss, CPU $cpu_ms ms for $MESSAGES messages"

for name in producer consumer; do
    size="$(podman image inspect --format '{{.Size}}' "localhost/event-workload/$name:test")"
    echo "images: $name image size $((size / 1000)) kB"
    ((size < MAX_IMAGE_BYTES)) || fail "the $name image is $size bytes, over $MAX_IMAGE_BYTES"
done
# Each rebuild leaves the previous image and build layers untagged. Removing those older
# than a day bounds the storage and keeps today's build cache.
podman image prune --force --filter until=24h >/dev/null 2>&1 || true
echo "images: all checks passed"
