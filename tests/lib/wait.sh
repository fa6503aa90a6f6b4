# shellcheck shell=bash
# Polling for the integration tests of both programs.

# wait_until SECONDS COMMAND...: polls COMMAND every 0.2 s and fails when it has not succeeded
# within SECONDS. The bound only stops a hung test, so no assertion depends on the program's speed.
wait_until() {
    local limit="$1"
    shift
    local deadline=$((SECONDS + limit))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}
