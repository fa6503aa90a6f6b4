# shellcheck shell=bash
# Starts tcp_proxy.py (a loopback TCP proxy that a test can cut, stall or slow down) in front of
# a loopback port. Source this file, then:
#
#   tcp_proxy_start DIR TARGET_PORT [OPTION...]
#
# starts the proxy with the OPTIONs of tcp_proxy.py, logging to DIR/proxy.log, and returns once
# it listens. It exports TCP_PROXY_PID and TCP_PROXY_PORT. A proxy that does not start is stopped,
# and the call returns 1 with a message on stderr. The caller stops a started proxy by its PID.

tcp_proxy_start() {
    local dir="${1:?usage: tcp_proxy_start DIR TARGET_PORT [OPTION...]}"
    local target="${2:?usage: tcp_proxy_start DIR TARGET_PORT [OPTION...]}"
    local ready="$dir/proxy.ready"
    local i
    shift 2

    rm -f "$ready"
    /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/tcp_proxy.py" "$@" "$ready" "$target" \
        >"$dir/proxy.log" 2>&1 &
    TCP_PROXY_PID=$!
    for ((i = 0; i < 100; i++)); do
        [[ -s "$ready" ]] && break
        sleep 0.1
    done
    if [[ ! -s "$ready" ]]; then
        kill "$TCP_PROXY_PID" 2>/dev/null || true
        echo "the proxy did not start: $(cat "$dir/proxy.log")" >&2
        return 1
    fi
    TCP_PROXY_PORT="$(cat "$ready")"
    export TCP_PROXY_PID TCP_PROXY_PORT
}
