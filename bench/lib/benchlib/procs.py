"""Processes started by the harness and what is measured about them.

Each process runs in its own session with stdout and stderr in files. A measured process runs
under bench/tools/measure.c, which reports its CPU times (including every descendant it
reaped) and its peak RSS; the harness's own wait4() would count the harness's memory in the
peak, because Linux keeps the pre-exec high-water mark in ru_maxrss. RSS while it runs is read
from /proc for the process and all its live descendants.
"""
import json
import os
import signal
import subprocess
import time


class ProcessTimeout(Exception):
    pass


# Path of the built bench_measure binary; cli.main sets it before any run.
MEASURE = None

# Every started process that has not been reaped yet, so that stop_all can end them when the
# harness itself is interrupted.
_live = set()


class Process:
    def __init__(self, name, argv, log_dir, env=None, cwd=None, measured=False):
        self.name = name
        self.argv = [str(arg) for arg in argv]
        self.stdout_path = os.path.join(log_dir, f"{name}.out")
        self.stderr_path = os.path.join(log_dir, f"{name}.err")
        self.measure_path = os.path.join(log_dir, f"{name}.measure") if measured else None
        self.measured = {}
        if measured:
            self.argv = [MEASURE, self.measure_path] + self.argv
        self.exit_code = None
        self.rusage = None
        self.end_mono = None
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.start_wall = time.time()
            self.start_mono = time.monotonic()
            self.popen = subprocess.Popen(self.argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=err, start_new_session=True)
        self.pid = self.popen.pid
        _live.add(self)

    def poll(self):
        """Reaps the process if it has exited; returns its exit code or None."""
        if self.exit_code is not None:
            return self.exit_code
        pid, status, rusage = os.wait4(self.pid, os.WNOHANG)
        if pid == 0:
            return None
        _live.discard(self)
        self.end_mono = time.monotonic()
        self.rusage = rusage
        self.exit_code = os.waitstatus_to_exitcode(status)
        self.popen.returncode = self.exit_code  # so that Popen does not wait for it again
        if self.measure_path and os.path.exists(self.measure_path):
            with open(self.measure_path) as report:
                self.measured = json.load(report)
        return self.exit_code

    def wait(self, timeout_s):
        deadline = time.monotonic() + timeout_s
        while self.poll() is None:
            if time.monotonic() >= deadline:
                raise ProcessTimeout(f"{self.name} did not exit within {timeout_s:.0f} s")
            time.sleep(0.005)
        return self.exit_code

    def stop(self, grace_s=10.0, sig=signal.SIGTERM):
        """Sends `sig`, then SIGKILL to the process and its group after `grace_s`. Members of
        the group that outlive the process, such as a profiled program whose profiler exited on
        the signal, are stopped as well."""
        if self.poll() is None:
            os.kill(self.pid, sig)
            try:
                self.wait(grace_s)
            except ProcessTimeout:
                self.signal_group(signal.SIGKILL)
                self.wait(10)
        self.stop_group(grace_s)
        return self.exit_code

    def stop_group(self, grace_s):
        """Sends SIGTERM to the members of the process group that still run, and SIGKILL to
        those left after `grace_s`."""
        if not group_running(self.pid):
            return
        self.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while group_running(self.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if group_running(self.pid):
            self.signal_group(signal.SIGKILL)

    def signal_group(self, sig):
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    @property
    def wall_s(self):
        end = self.end_mono if self.end_mono is not None else time.monotonic()
        return end - self.start_mono

    @property
    def cpu_user_s(self):
        if self.measured:
            return self.measured["user_s"]
        return self.rusage.ru_utime if self.rusage else None

    @property
    def cpu_system_s(self):
        if self.measured:
            return self.measured["system_s"]
        return self.rusage.ru_stime if self.rusage else None

    @property
    def cpu_s(self):
        user, system = self.cpu_user_s, self.cpu_system_s
        return None if user is None or system is None else user + system

    @property
    def peak_rss_kb(self):
        """Peak RSS in KiB; only meaningful for a measured process (see the module doc)."""
        if self.measured:
            return self.measured["max_rss_kb"]
        return self.rusage.ru_maxrss if self.rusage else None

    def rss_kb(self):
        """Current RSS of the process and its live descendants, in KiB (None once gone). The
        measure wrapper itself (about 1 MB) is left out."""
        total = 0
        found = False
        pids = descendants(self.pid)
        if not self.measure_path:
            pids.insert(0, self.pid)
        for pid in pids:
            value = status_field(pid, "VmRSS")
            if value is not None:
                total += value
                found = True
        return total if found else None

    def stdout_text(self):
        with open(self.stdout_path, encoding="utf-8", errors="replace") as out:
            return out.read()

    def stderr_tail(self, lines=15):
        with open(self.stderr_path, encoding="utf-8", errors="replace") as err:
            return "".join(err.readlines()[-lines:])

    def last_json(self):
        """Return the last stdout line that parses as a JSON object, or {}."""
        for line in reversed(self.stdout_text().splitlines()):
            line = line.strip()
            if line.startswith("{"):
                try:
                    return json.loads(line)
                except ValueError:
                    continue
        return {}


def cpu_seconds(pid):
    """User plus system CPU seconds that a live process has used so far, or None."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_field(pid, field):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def group_running(pgid):
    """Return whether a process of group `pgid` is still running. A member that has exited but
    has not been reaped yet is a zombie, which kill() would still find, so /proc is read
    instead."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # The fields after the command, which is in parentheses: state, ppid, pgrp.
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def stop_all(grace_s=30.0):
    """Stops every process the harness started and has not reaped, with its process group: a
    service's helper and what it started, or a measured process and its contender. Each group
    gets SIGTERM. A group with a member still running after `grace_s` gets SIGKILL, even when
    its first process has exited."""
    live = list(_live)
    for process in live:
        process.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        for process in live:
            process.poll()
        if not any(group_running(process.pid) for process in live):
            break
        time.sleep(0.05)
    for process in live:
        if group_running(process.pid):
            process.signal_group(signal.SIGKILL)
    for process in live:
        try:
            process.wait(10)
        except ProcessTimeout:
            pass  # it ends anyway, because the kernel has delivered the SIGKILL


def descendants(pid):
    found = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as children:
                    for child in children.read().split():
                        found.append(int(child))
                        pending.append(int(child))
            except FileNotFoundError:
                continue
    return found


def run_to_end(name, argv, log_dir, timeout_s, env=None):
    """Runs a helper command to completion and returns the Process; raises on timeout."""
    process = Process(name, argv, log_dir, env=env)
    try:
        process.wait(timeout_s)
    except ProcessTimeout:
        process.stop(grace_s=2)
        raise
    return process
