# shellcheck shell=bash
# Starts and stops the Service Bus emulator for a test. Source this file, then:
#
#   emulator_start DIR [extra servicebus-emulator options...]
#   ... use $EMULATOR_CONNECTION_STRING, $EMULATOR_AMQP_PORT, $EMULATOR_HTTP_PORT ...
#   emulator_stop
#
# emulator_start runs $SERVICEBUS_EMULATOR (the built binary; tests get it from CMake as
# $<TARGET_FILE:servicebus-emulator>) with free ports on 127.0.0.1 and waits at most
# 10 seconds for its ready file. It uses $EMULATOR_CONFIG, or the suite's Config.json, and
# writes DIR/emulator.log. It exports EMULATOR_PID, EMULATOR_AMQP_PORT, EMULATOR_AMQPS_PORT
# (empty without --tls-port), EMULATOR_HTTP_PORT and EMULATOR_CONNECTION_STRING. Call
# emulator_stop from an EXIT trap so the emulator stops even when the test fails.

emulator_lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

emulator_start() {
    local dir="${1:?usage: emulator_start DIR [options...]}"
    shift
    local binary="${SERVICEBUS_EMULATOR:?set SERVICEBUS_EMULATOR to the servicebus-emulator binary}"
    local config="${EMULATOR_CONFIG:-$emulator_lib_dir/../emulators/servicebus/Config.json}"
    local ready="$dir/emulator.ready"
    local key_name="RootManageSharedAccessKey"
    local key="SAS_KEY_VALUE"
    local args=("$@")
    local i

    for ((i = 0; i < ${#args[@]}; i++)); do
        case "${args[i]}" in
        --key-name) key_name="${args[i + 1]:-}" ;;
        --key) key="${args[i + 1]:-}" ;;
        esac
    done

    mkdir -p "$dir"
    rm -f "$ready"
    "$binary" --config "$config" --port 0 --http-port 0 --ready-file "$ready" "$@" \
        >"$dir/emulator.log" 2>&1 &
    EMULATOR_PID=$!
    export EMULATOR_PID

    for ((i = 0; i < 100; i++)); do
        [[ -s "$ready" ]] && break
        if ! kill -0 "$EMULATOR_PID" 2>/dev/null; then
            echo "emulator_start: servicebus-emulator exited before it was ready; its log:" >&2
            cat "$dir/emulator.log" >&2
            EMULATOR_PID=""
            return 1
        fi
        sleep 0.1
    done
    if [[ ! -s "$ready" ]]; then
        echo "emulator_start: servicebus-emulator was not ready after 10 s; its log:" >&2
        cat "$dir/emulator.log" >&2
        emulator_stop
        return 1
    fi

    local line
    line="$(cat "$ready")"
    EMULATOR_AMQP_PORT="$(sed -n 's/.*"amqp":\([0-9]*\).*/\1/p' <<<"$line")"
    EMULATOR_AMQPS_PORT="$(sed -n 's/.*"amqps":\([0-9]*\).*/\1/p' <<<"$line")"
    EMULATOR_HTTP_PORT="$(sed -n 's/.*"http":\([0-9]*\).*/\1/p' <<<"$line")"
    EMULATOR_CONNECTION_STRING="Endpoint=sb://localhost:$EMULATOR_AMQP_PORT;SharedAccessKeyName=$key_name;SharedAccessKey=$key;UseDevelopmentEmulator=true"
    export EMULATOR_AMQP_PORT EMULATOR_AMQPS_PORT EMULATOR_HTTP_PORT EMULATOR_CONNECTION_STRING
}

emulator_stop() {
    if [[ -n "${EMULATOR_PID:-}" ]]; then
        kill "$EMULATOR_PID" 2>/dev/null || true
        wait "$EMULATOR_PID" 2>/dev/null || true
        EMULATOR_PID=""
    fi
}
