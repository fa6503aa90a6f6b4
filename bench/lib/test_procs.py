"""Unit tests of how the harness stops the processes it started, with their process groups."""
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

from benchlib import procs
from benchlib.procs import Process, group_running


def still_running(pgid, timeout_s=5):
    """Return whether group `pgid` still runs after waiting up to `timeout_s` for it to end. A
    child that was sent a signal may exit a moment after its group leader was reaped."""
    deadline = time.monotonic() + timeout_s
    while group_running(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return group_running(pgid)


def wait_for_file(path, timeout_s=10):
    deadline = time.monotonic() + timeout_s
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.path.exists(path)


class StopAllTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def start(self, name, script, child="sleep 300"):
        """Start a shell that runs `script`, then `child` in the background, and waits for it.
        The child shares the shell's process group, as a service's processes do."""
        ready = os.path.join(self.dir.name, f"{name}.ready")
        process = Process(name, ["bash", "-c", f"{script}; {child} & touch {ready}; wait"],
                          self.dir.name)
        self.addCleanup(process.signal_group, signal.SIGKILL)
        self.assertTrue(wait_for_file(ready))
        return process

    def test_ends_each_process_and_its_group(self):
        first = self.start("first", "true")
        second = self.start("second", "true")
        procs.stop_all(grace_s=10)
        self.assertEqual(first.exit_code, -signal.SIGTERM)
        self.assertEqual(second.exit_code, -signal.SIGTERM)
        self.assertFalse(still_running(first.pid))
        self.assertFalse(still_running(second.pid))

    def test_kills_group_after_its_leader_exits(self):
        # The shell exits on SIGTERM, but its child ignores it and keeps the group alive.
        leader = self.start("leader", "true", child="(trap '' TERM; exec sleep 300)")
        started = time.monotonic()
        procs.stop_all(grace_s=0.5)
        self.assertGreaterEqual(time.monotonic() - started, 0.5)
        self.assertEqual(leader.exit_code, -signal.SIGTERM)
        self.assertFalse(still_running(leader.pid))

    def test_stop_ends_what_outlives_the_process(self):
        # As a profiler that exits on SIGTERM and leaves the program it profiles running.
        wrapper = self.start("wrapper", "true")
        os.kill(wrapper.pid, signal.SIGTERM)  # only the wrapper, as the harness sends it
        self.assertEqual(wrapper.wait(10), -signal.SIGTERM)
        self.assertTrue(still_running(wrapper.pid, timeout_s=0))
        wrapper.stop(grace_s=5)
        self.assertFalse(still_running(wrapper.pid))

    def test_kills_a_group_that_ignores_sigterm(self):
        stubborn = self.start("stubborn", "trap '' TERM")
        started = time.monotonic()
        procs.stop_all(grace_s=0.5)
        self.assertGreaterEqual(time.monotonic() - started, 0.5)
        self.assertEqual(stubborn.exit_code, -signal.SIGKILL)
        self.assertFalse(still_running(stubborn.pid))

    def test_leaves_reaped_processes_alone(self):
        done = Process("done", ["true"], self.dir.name)
        self.assertEqual(done.wait(10), 0)
        procs.stop_all(grace_s=0.5)
        self.assertEqual(done.exit_code, 0)

    def test_sigterm_to_the_harness_stops_what_it_started(self):
        # The harness's own pattern: the SIGTERM handler of cli, and stop_all in `finally`.
        ready = os.path.join(self.dir.name, "service.ready")
        script = textwrap.dedent(f"""
            import signal, sys, time
            sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
            from benchlib import cli, procs
            signal.signal(signal.SIGTERM, cli._terminate)
            try:
                service = procs.Process("service", ["bash", "-c",
                                        "sleep 300 & touch {ready}; wait"], {self.dir.name!r})
                print(service.pid, flush=True)
                time.sleep(60)
            finally:
                procs.stop_all(grace_s=10)
            """)
        harness = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                   text=True)
        self.addCleanup(harness.kill)
        self.addCleanup(harness.stdout.close)
        service_pid = int(harness.stdout.readline())
        self.addCleanup(lambda: group_running(service_pid) and os.killpg(service_pid,
                                                                        signal.SIGKILL))
        self.assertTrue(wait_for_file(ready))
        harness.send_signal(signal.SIGTERM)
        self.assertEqual(harness.wait(20), 128 + signal.SIGTERM)
        self.assertFalse(still_running(service_pid))


if __name__ == "__main__":
    unittest.main()
