# shellcheck shell=bash
# Checks of a program whose event loop is frozen through tests/lib/freeze_epoll.c. The caller
# defines fail(), runs the program with LD_PRELOAD=$FREEZE_LIBRARY and WL_FREEZE_FILE set, and
# sources this file.

# The library loads ahead of AddressSanitizer's runtime in a sanitizer build.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

# shellcheck source=wait.sh
source "$(dirname "${BASH_SOURCE[0]}")/wait.sh"

loop_health() { curl -s "$LOOP_HEALTH_URL/$1"; }
loop_stalled() { loop_health healthz | grep -q '"status":"stalled"'; }
loop_live() { loop_health healthz | grep -q '"status":"ok"'; }

# expect_loop_stall HEALTH_URL FREEZE_FILE CHECK_COMMAND...: freezes the loop, expects /healthz
# to fail with "stalled" after 15 s and not before, /readyz to name the component "loop" first
# and CHECK_COMMAND (the program's --check) to fail. Then lets the loop run again and waits
# until /healthz returns 200.
expect_loop_stall() {
    LOOP_HEALTH_URL="$1"
    local freeze="$2" started
    shift 2

    touch "$freeze"
    started=$SECONDS
    wait_until 40 loop_stalled ||
        fail "/healthz did not report the stalled loop: $(loop_health healthz)"
    ((SECONDS - started >= 14)) ||
        fail "/healthz failed after $((SECONDS - started)) s, before 15 s"
    loop_health healthz | grep -q 'the event loop has not run for [0-9]* ms (limit 15000 ms)' ||
        fail "/healthz does not say how long the loop was stopped: $(loop_health healthz)"
    loop_health readyz | grep -q '"status":"not-ready","component":"loop"' ||
        fail "/readyz does not name the stalled loop first: $(loop_health readyz)"
    if "$@" 2>/dev/null; then
        fail "$* passed while the loop was stalled"
    fi

    rm "$freeze"
    wait_until 10 loop_live || fail "/healthz did not recover: $(loop_health healthz)"
}
