# shellcheck shell=bash
# Holds a loopback TCP port open so that a test can check what a program does when its port
# is taken. Source this file, then:
#
#   port_holder_start DIR   listen on a free port of 127.0.0.1; exports PORT_HOLDER_PORT
#   port_holder_stop        stop the listener that port_holder_start started
#   free_port               print a port of 127.0.0.1 that was free a moment ago (another
#                           process may take it before the caller binds it)
#
# Callers stop the listener in a trap: trap port_holder_stop EXIT.

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_holder_start() {
    local dir="${1:?usage: port_holder_start DIR}"
    local port_file="$dir/port_holder.port"
    local i

    rm -f "$port_file"
    python3 -c '
import socket, sys, time
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
with open(sys.argv[1] + ".tmp", "w") as out:
    out.write(str(listener.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(3600)
' "$port_file" &
    PORT_HOLDER_PID=$!
    for ((i = 0; i < 100; i++)); do
        if [[ -s "$port_file" ]]; then
            PORT_HOLDER_PORT="$(cat "$port_file")"
            export PORT_HOLDER_PORT PORT_HOLDER_PID
            return 0
        fi
        sleep 0.1
    done
    echo "port_holder_start: the listener did not start within 10 s" >&2
    return 1
}

port_holder_stop() {
    if [[ -n "${PORT_HOLDER_PID:-}" ]]; then
        kill "$PORT_HOLDER_PID" 2>/dev/null || true
        wait "$PORT_HOLDER_PID" 2>/dev/null || true
        PORT_HOLDER_PID=
    fi
}
