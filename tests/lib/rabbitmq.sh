# shellcheck shell=bash
# Starts and stops a private RabbitMQ 3.10 broker (Debian's rabbitmq-server) with the AMQP 1.0
# plugin, for tests that need a second, independent AMQP 1.0 peer. No systemd is needed: the
# broker runs as a child of the calling shell with all its state in one directory, so several
# instances can run at once. Source this file, then:
#
#   rabbitmq_start DIR [QUEUE...]   start the broker with each QUEUE (default "workload")
#                                   declared durable
#   rabbitmq_stop                   stop the broker and the epmd that rabbitmq_start started
#
# rabbitmq_start exports RABBITMQ_PID (the broker's start script), RABBITMQ_BEAM_PID (the Erlang
# VM), RABBITMQ_EPMD_PID, RABBITMQ_AMQP_PORT (AMQP 1.0 and 0-9-1 on 127.0.0.1),
# RABBITMQ_USER, RABBITMQ_PASSWORD, RABBITMQ_QUEUE (the first QUEUE) and RABBITMQ_ADDRESS
# (/amq/queue/QUEUE, the AMQP 1.0 address of that pre-declared queue). Everything binds 127.0.0.1 on ports chosen at run time:
# AMQP, Erlang distribution and a private epmd. The broker accepts SASL PLAIN with that user
# only (AMQP 1.0 connections without SASL are refused). Callers stop it in a trap:
# trap rabbitmq_stop EXIT.

RABBITMQ_LIB_BIN=/usr/lib/rabbitmq/bin
# A cold start took about 7 s on 2 cores, so this bound only catches a broker that hangs.
RABBITMQ_START_TIMEOUT_S=90

# Prints N free loopback TCP ports, bound together so that they differ.
rabbitmq_free_ports() {
    /usr/bin/python3 - "$1" <<'PY'
import socket, sys
sockets = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    sockets.append(s)
print(" ".join(str(s.getsockname()[1]) for s in sockets))
PY
}

# Prints a RabbitMQ password hash (rabbit_password_hashing_sha256): base64 of a 4-byte salt
# followed by SHA-256(salt + password).
rabbitmq_password_hash() {
    /usr/bin/python3 - "$1" <<'PY'
import base64, hashlib, os, sys
salt = os.urandom(4)
print(base64.b64encode(salt + hashlib.sha256(salt + sys.argv[1].encode()).digest()).decode())
PY
}

rabbitmq_write_config() {
    local dir="$1" hash="$2"
    shift 2
    local queues="" queue
    for queue in "$@"; do
        queues+="${queues:+,}
    {\"name\": \"$queue\", \"vhost\": \"/\", \"durable\": true, \"auto_delete\": false, \"arguments\": {}}"
    done

    cat >"$dir/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$RABBITMQ_AMQP_PORT
load_definitions = $dir/definitions.json
amqp1_0.default_user = none
log.console = false
log.file = rabbit.log
log.file.level = info
disk_free_limit.absolute = 50MB
CONF
    # Keeps the Erlang distribution listener on loopback too.
    echo '[{kernel, [{inet_dist_use_interface, {127,0,0,1}}]}].' >"$dir/advanced.config"
    echo '[rabbitmq_amqp1_0].' >"$dir/enabled_plugins"
    : >"$dir/rabbitmq-env.conf"
    cat >"$dir/definitions.json" <<JSON
{
  "vhosts": [{"name": "/"}],
  "users": [{"name": "$RABBITMQ_USER", "password_hash": "$hash",
             "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ["administrator"]}],
  "permissions": [{"user": "$RABBITMQ_USER", "vhost": "/",
                   "configure": ".*", "write": ".*", "read": ".*"}],
  "queues": [$queues]
}
JSON
}

# Sets the environment that both the broker and rabbitmqctl read, so that the CLI finds this
# node (its name, epmd port and Erlang cookie under HOME) and no other.
rabbitmq_export_env() {
    local dir="$1" epmd_port="$2" dist_port="$3"

    export HOME="$dir"
    export RABBITMQ_NODENAME="$RABBITMQ_NODENAME"
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT="$RABBITMQ_AMQP_PORT"
    export RABBITMQ_DIST_PORT="$dist_port"
    export ERL_EPMD_PORT="$epmd_port"
    export ERL_EPMD_ADDRESS=127.0.0.1
    export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
    export RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
    export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
    export RABBITMQ_MNESIA_BASE="$dir/mnesia"
    export RABBITMQ_LOG_BASE="$dir/log"
    export RABBITMQ_PID_FILE="$dir/rabbit.pid"
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-start_epmd false"
}

rabbitmq_start() {
    local dir="${1:?usage: rabbitmq_start DIR [QUEUE...]}"
    shift
    local queues=("$@")
    ((${#queues[@]} > 0)) || queues=(workload)
    mkdir -p "$dir/mnesia" "$dir/log"
    dir="$(cd "$dir" && pwd)"

    local ports epmd_port dist_port
    ports="$(rabbitmq_free_ports 3)" || return 1
    read -r RABBITMQ_AMQP_PORT epmd_port dist_port <<<"$ports"
    RABBITMQ_NODENAME="wl-$$-$RANDOM@localhost"
    RABBITMQ_USER=workload
    RABBITMQ_PASSWORD="$(openssl rand -hex 16)"
    RABBITMQ_QUEUE="${queues[0]}"
    RABBITMQ_ADDRESS="/amq/queue/$RABBITMQ_QUEUE"
    export RABBITMQ_AMQP_PORT RABBITMQ_USER RABBITMQ_PASSWORD RABBITMQ_QUEUE RABBITMQ_ADDRESS

    rabbitmq_write_config "$dir" "$(rabbitmq_password_hash "$RABBITMQ_PASSWORD")" "${queues[@]}"
    rabbitmq_export_env "$dir" "$epmd_port" "$dist_port"

    epmd -port "$epmd_port" -address 127.0.0.1 >"$dir/log/epmd.log" 2>&1 &
    RABBITMQ_EPMD_PID=$!
    export RABBITMQ_EPMD_PID

    "$RABBITMQ_LIB_BIN/rabbitmq-server" >"$dir/log/server.out" 2>&1 &
    RABBITMQ_PID=$!
    export RABBITMQ_PID

    if ! timeout "$RABBITMQ_START_TIMEOUT_S" "$RABBITMQ_LIB_BIN/rabbitmqctl" wait "$RABBITMQ_PID_FILE" \
        --timeout "$RABBITMQ_START_TIMEOUT_S" >"$dir/log/wait.out" 2>&1; then
        echo "rabbitmq_start: the broker did not start within ${RABBITMQ_START_TIMEOUT_S} s; logs in $dir/log:" >&2
        tail -n 20 "$dir/log/server.out" "$dir/log/wait.out" >&2
        rabbitmq_stop
        return 1
    fi
    RABBITMQ_BEAM_PID="$(cat "$RABBITMQ_PID_FILE")"
    export RABBITMQ_BEAM_PID
}

rabbitmq_wait_exit() {
    local pid="$1" tries=0
    while kill -0 "$pid" 2>/dev/null && ((tries < 150)); do
        sleep 0.1
        tries=$((tries + 1))
    done
    ! kill -0 "$pid" 2>/dev/null
}

# Stops, by PID, the broker and then the epmd that rabbitmq_start started: SIGTERM, and SIGKILL
# for what still runs after 15 s. An epmd that rabbitmq_start did not start is left alone.
rabbitmq_stop() {
    local beam="${RABBITMQ_BEAM_PID:-}"
    if [[ -z "$beam" && -n "${RABBITMQ_PID_FILE:-}" && -s "$RABBITMQ_PID_FILE" ]]; then
        beam="$(cat "$RABBITMQ_PID_FILE")"
    fi

    if [[ -n "${RABBITMQ_PID:-}" ]]; then
        kill "$RABBITMQ_PID" 2>/dev/null || true
        rabbitmq_wait_exit "$RABBITMQ_PID" || kill -9 "$RABBITMQ_PID" 2>/dev/null || true
        wait "$RABBITMQ_PID" 2>/dev/null || true
    fi
    if [[ -n "$beam" ]] && kill -0 "$beam" 2>/dev/null; then
        kill "$beam" 2>/dev/null || true
        rabbitmq_wait_exit "$beam" || kill -9 "$beam" 2>/dev/null || true
    fi
    if [[ -n "${RABBITMQ_EPMD_PID:-}" ]]; then
        kill "$RABBITMQ_EPMD_PID" 2>/dev/null || true
        wait "$RABBITMQ_EPMD_PID" 2>/dev/null || true
    fi
    unset RABBITMQ_PID RABBITMQ_BEAM_PID RABBITMQ_EPMD_PID
}
