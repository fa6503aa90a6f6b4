#!/usr/bin/env bash
# scripts/demo --keep leaves its stack running, so that `env` describes it and `down` stops it.
# A second demo started while one runs exits 2 instead of sharing its state directory.
# The demo builds its own Release binaries in build/demo, so the first run takes a minute.
set -euo pipefail

root="${WORKLOAD_ROOT:?WORKLOAD_ROOT must point at the repository}"
work_dir="$(mktemp -d)"
export DEMO_STATE_DIR="$work_dir/demo"
first_pid=""

# Stops what a failed check left running: the first demo, and the kept stack by its pids file.
clean_up() {
    if [[ -n "$first_pid" ]]; then
        kill -TERM "$first_pid" 2>/dev/null || true
        wait "$first_pid" 2>/dev/null || true
    fi
    if [[ -f "$DEMO_STATE_DIR/pids" ]]; then
        while read -r pid; do
            kill -TERM "$pid" 2>/dev/null || true
        done <"$DEMO_STATE_DIR/pids"
    fi
    rm -rf "$work_dir"
}
trap clean_up EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# A demo that runs for a while, and a second one started meanwhile.
"$root/scripts/demo" --count 20000 >"$work_dir/first.out" 2>"$work_dir/first.err" &
first_pid=$!
lock_held() { [[ -f "$DEMO_STATE_DIR/lock" ]] && ! flock -n "$DEMO_STATE_DIR/lock" true; }
for _ in $(seq 1 3000); do
    lock_held && break
    kill -0 "$first_pid" 2>/dev/null || fail "the first demo ended early: $(tail -n 5 "$work_dir/first.err")"
    sleep 0.1
done
lock_held || fail "the first demo did not take its lock within 300 s"
status=0
"$root/scripts/demo" --count 5 >/dev/null 2>"$work_dir/second.err" || status=$?
[[ "$status" == 2 ]] || fail "a second demo exited $status, expected 2: $(cat "$work_dir/second.err")"
grep -q "another scripts/demo is running" "$work_dir/second.err" ||
    fail "the second demo printed: $(cat "$work_dir/second.err")"
status=0
wait "$first_pid" || status=$?
first_pid=""
[[ "$status" == 0 ]] || fail "the first demo exited $status: $(tail -n 5 "$work_dir/first.err")"

# With --keep the stack outlives the run. `env` describes it, and `down` stops every process.
"$root/scripts/demo" --keep --count 50 >/dev/null 2>"$work_dir/keep.err" ||
    fail "the kept demo failed: $(tail -n 5 "$work_dir/keep.err")"
[[ -s "$DEMO_STATE_DIR/pids" ]] || fail "the kept demo recorded no process ids"
mapfile -t pids <"$DEMO_STATE_DIR/pids"
((${#pids[@]} >= 3)) || fail "the kept demo recorded ${#pids[@]} processes, expected at least 3"
for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || fail "process $pid of the kept stack is not running"
done
"$root/scripts/demo" env | grep -q '^export SERVICEBUS_CONNECTION_STRING=' ||
    fail "scripts/demo env does not describe the kept stack"
"$root/scripts/demo" down 2>/dev/null || fail "scripts/demo down failed"
for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && fail "process $pid still runs after scripts/demo down"
done
[[ ! -f "$DEMO_STATE_DIR/pids" ]] || fail "scripts/demo down left the pids file"
echo "keep_down: ok"
