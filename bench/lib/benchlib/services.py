"""The services a benchmark run talks to, all on loopback and all stopped by PID: the Service
Bus emulator (through tests/lib/emulator.sh), the nginx sink and the strict Cosmos test server
(through tests/lib/cosmos.sh), plus the helpers that seed, count and empty a queue."""
import json
import os
import shlex
import signal
import socket
import time
import urllib.request

from .procs import Process, cpu_seconds, run_to_end

ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"
SAS_KEY_NAME = "RootManageSharedAccessKey"
SAS_KEY = "SAS_KEY_VALUE"
COSMOS_EMULATOR_KEY = ("C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMs"
                       "EcaGQy67XIw/Jw==")
START_TIMEOUT_S = 60


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, process, timeout_s=START_TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.name} exited during start: {process.stderr_tail()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.01)
    raise RuntimeError(f"{process.name} did not listen on port {port} within {timeout_s} s")


class ShellService:
    """A service started by a tests/lib/*.sh helper. A bash wrapper sources the helper, calls
    its start function, writes the variables it exports to a file and waits; SIGTERM makes the
    wrapper call the stop function, so the service is stopped by its own helper."""

    def __init__(self, name, root, work_dir, library, start, stop, prefix, env=None):
        self.name = name
        self.vars = {}
        vars_path = os.path.join(work_dir, f"{name}.vars")
        script = f"""
set -u
source {shlex.quote(os.path.join(root, library))}
sleeper=
trap '[[ -n "$sleeper" ]] && kill "$sleeper" 2>/dev/null; {stop}; exit 0' TERM INT
{start} || exit 1
env | grep '^{prefix}' > {shlex.quote(vars_path)}.tmp
mv {shlex.quote(vars_path)}.tmp {shlex.quote(vars_path)}
while true; do sleep 3600 & sleeper=$!; wait "$sleeper"; done
"""
        self.process = Process(name, ["bash", "-c", script], work_dir, env=env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not os.path.exists(vars_path):
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} failed to start: {self.process.stderr_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{name} did not start within {START_TIMEOUT_S} s")
            time.sleep(0.02)
        with open(vars_path) as lines:
            for line in lines:
                key, _, value = line.rstrip("\n").partition("=")
                self.vars[key] = value

    def stop(self):
        self.process.stop(grace_s=20)


class Emulator:
    """The Service Bus emulator with one queue, plain AMQP for the C clients and the Node SDK
    (UseDevelopmentEmulator=true) and AMQPS for the Python SDK, which speaks only TLS."""

    def __init__(self, ctx, work_dir, queue="bench"):
        self.queue = queue
        self.work_dir = work_dir
        config = {"UserConfig": {"Namespaces": [{"Name": "sbemulatorns", "Queues": [{
            "Name": queue, "Properties": {
                "LockDuration": "PT1M", "MaxDeliveryCount": 10,
                "DefaultMessageTimeToLive": "PT1H", "DeadLetteringOnMessageExpiration": False,
                "RequiresDuplicateDetection": False,
                "DuplicateDetectionHistoryTimeWindow": "PT20S", "RequiresSession": False,
                "ForwardTo": "", "ForwardDeadLetteredMessagesTo": ""}}], "Topics": []}],
            "Logging": {"Type": "File"}}}
        config_path = os.path.join(work_dir, "servicebus-config.json")
        with open(config_path, "w") as out:
            json.dump(config, out)
        ca_dir = ctx.ca_dir
        env = dict(os.environ, SERVICEBUS_EMULATOR=ctx.binary("emulator"),
                   EMULATOR_CONFIG=config_path)
        start = (f"emulator_start {shlex.quote(work_dir)} --tls-port 0 "
                 f"--tls-cert {shlex.quote(ca_dir)}/server.crt "
                 f"--tls-key {shlex.quote(ca_dir)}/server.key")
        self.service = ShellService("emulator", ctx.root, work_dir, "tests/lib/emulator.sh",
                                    start, "emulator_stop", "EMULATOR_", env=env)
        self.vars = self.service.vars
        self.amqp_port = int(self.vars["EMULATOR_AMQP_PORT"])
        self.amqps_port = int(self.vars.get("EMULATOR_AMQPS_PORT", 0))
        self.http_port = int(self.vars.get("EMULATOR_HTTP_PORT", 0))
        self.pid = int(self.vars["EMULATOR_PID"]) if self.vars.get("EMULATOR_PID") else None
        self.ca_file = os.path.join(ca_dir, "ca.crt")
        self.connection_string = (
            f"Endpoint=sb://127.0.0.1:{self.amqp_port};SharedAccessKeyName={SAS_KEY_NAME};"
            f"SharedAccessKey={SAS_KEY};UseDevelopmentEmulator=true;")
        self.tls_connection_string = (
            f"Endpoint=sb://localhost:{self.amqps_port};SharedAccessKeyName={SAS_KEY_NAME};"
            f"SharedAccessKey={SAS_KEY};")

    def env(self, tls=False):
        env = dict(os.environ, SERVICEBUS_QUEUE=self.queue)
        if tls:
            env["SERVICEBUS_CONNECTION_STRING"] = self.tls_connection_string
            env["SERVICEBUS_CA_FILE"] = self.ca_file
        else:
            env["SERVICEBUS_CONNECTION_STRING"] = self.connection_string
        return env

    def active_message_count(self):
        """ActiveMessageCount from the admin endpoint (the value KEDA reads), or None."""
        if not self.http_port:
            return None
        url = f"http://127.0.0.1:{self.http_port}/{self.queue}?api-version=2021-05"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        start = text.find("<ActiveMessageCount>")
        if start < 0:
            start = text.find(":ActiveMessageCount>")
        if start < 0:
            return None
        start = text.index(">", start) + 1
        return int(text[start:text.index("<", start)])

    def cpu_s(self):
        """CPU seconds the emulator has used since it started (seeding included)."""
        return cpu_seconds(self.pid) if self.pid else None

    def stop(self):
        self.service.stop()


def seed(ctx, emulator, count, log_dir, size=200):
    """Puts `count` messages into the queue with the raw sender (not measured)."""
    process = run_to_end("seed", [ctx.binary("raw_proton"), "send", "--count", count,
                                  "--inflight", 1000, "--size", size],
                         log_dir, timeout_s=300, env=emulator.env())
    report = process.last_json()
    if process.exit_code != 0 or report.get("accepted") != count:
        raise RuntimeError(f"seeding {count} messages failed: {report} {process.stderr_tail()}")


def drain_count(ctx, emulator, log_dir, idle_ms=500):
    """Receives and completes every message left in the queue; returns how many there were.

    The emulator's admin count (available, locked and deferred messages) is the number to wait
    for, so a slow first delivery does not end the drain early. The idle timeout then only
    bounds a drain that stalls. Without the admin endpoint it drains until `idle_ms` passes
    without a message."""
    expected = emulator.active_message_count()
    if expected == 0:
        return 0
    args = [ctx.binary("raw_proton"), "receive", "--inflight", 1000]
    if expected is None:
        args += ["--count", 0, "--idle-ms", idle_ms]
    else:
        args += ["--count", expected, "--idle-ms", max(idle_ms, 10000)]
    process = run_to_end("drain", args, log_dir, timeout_s=600, env=emulator.env())
    report = process.last_json()
    # With a count, exit code 1 only means fewer arrived; the caller compares the number.
    if "received" not in report or (expected is None and process.exit_code != 0):
        raise RuntimeError(f"emptying the queue failed: {process.stderr_tail()}")
    return report["received"]


class NginxSink:
    """nginx serving the Cosmos DB calls on loopback (bench/sinks/nginx.conf.in). Documents are
    logged, one line each, with the time nginx sent the response. With `delay_ms`, every upsert
    response waits that long on a timer, which costs nginx no work while it waits."""

    def __init__(self, ctx, work_dir, delay_ms=0):
        self.dir = os.path.join(work_dir, "nginx")
        for sub in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        with open(os.path.join(ctx.root, "bench/sinks/nginx.conf.in")) as template:
            text = template.read()
        delay = f"echo_sleep {delay_ms / 1000:.3f};" if delay_ms else ""
        for attempt in range(5):
            self.port = free_port()
            conf = (text.replace("@DIR@", self.dir).replace("@PORT@", str(self.port))
                    .replace("@ECHO_MODULE@", ECHO_MODULE).replace("@DELAY@", delay))
            conf_path = os.path.join(self.dir, "nginx.conf")
            with open(conf_path, "w") as out:
                out.write(conf)
            self.process = Process("nginx", ["nginx", "-p", self.dir, "-c", conf_path],
                                   work_dir)
            try:
                wait_for_port(self.port, self.process)
                break
            except RuntimeError:
                if attempt == 4:
                    raise
                self.process.stop(grace_s=2)
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.key = COSMOS_EMULATOR_KEY
        self.ca_file = None
        self.log_path = os.path.join(self.dir, "docs.log")
        self.poll_interval_s = 0.05
        self._offset = 0
        self._lines = 0

    def env(self):
        return {"COSMOS_ENDPOINT": self.endpoint, "COSMOS_KEY": self.key,
                "COSMOS_DATABASE": "workload", "COSMOS_CONTAINER": "results"}

    def document_count(self):
        """Documents logged so far (nginx flushes its log buffer every 200 ms)."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._offset)
                chunk = log.read()
        except FileNotFoundError:
            return 0
        end = chunk.rfind(b"\n") + 1
        self._lines += chunk.count(b"\n", 0, end)
        self._offset += end
        return self._lines

    def documents(self):
        """Yield every logged document as (unix seconds when nginx logged it, parsed JSON or
        None). A generator, because a soak at full rate logs tens of millions: as a list of
        parsed documents, 18 million took more than the machine's 24 GB."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as log:
                for line in log:
                    stamp, _, body = line.rstrip("\n").partition(" ")
                    try:
                        document = json.loads(body)
                    except ValueError:
                        document = None
                    yield float(stamp), document
        except FileNotFoundError:
            return

    def cpu_s(self):
        """CPU seconds nginx has used since it started."""
        return cpu_seconds(self.process.pid)

    def final_documents(self):
        """Stops nginx, which flushes its log buffer, and returns the documents() generator."""
        self.stop()
        return self.documents()

    def stop(self):
        self.process.stop(grace_s=10, sig=signal.SIGQUIT)  # graceful: flushes the log buffer


class StrictCosmos:
    """The strict Cosmos DB test server over HTTPS, started by tests/lib/cosmos.sh. With
    `delay_ms`, it delays every response that long (its --response-delay-ms)."""

    poll_interval_s = 1.0

    def __init__(self, ctx, work_dir, delay_ms=0):
        options = ["--response-delay-ms", str(delay_ms)] if delay_ms else []
        start = " ".join(["cosmos_start", shlex.quote(f"{work_dir}/cosmos")]
                         + [shlex.quote(option) for option in options])
        self.service = ShellService("cosmos", ctx.root, work_dir, "tests/lib/cosmos.sh", start,
                                    "cosmos_stop", "COSMOS_")
        self.endpoint = self.service.vars["COSMOS_ENDPOINT"]
        self.key = self.service.vars["COSMOS_KEY"]
        self.ca_file = self.service.vars.get("COSMOS_CA_FILE")

        self.root = ctx.root
        self.work_dir = work_dir

    def env(self):
        env = {"COSMOS_ENDPOINT": self.endpoint, "COSMOS_KEY": self.key,
               "COSMOS_DATABASE": "workload", "COSMOS_CONTAINER": "results"}
        if self.ca_file:
            env["COSMOS_CA_FILE"] = self.ca_file
        return env

    def _read_back(self, command):
        """Runs tests/lib/cosmos_count.js COMMAND; returns its stdout, or None while the
        database or container does not exist yet."""
        process = run_to_end("cosmos-read", ["node", os.path.join(self.root,
                                                                   "tests/lib/cosmos_count.js"),
                                             command], self.work_dir, timeout_s=120,
                             env=dict(os.environ, **self.env()))
        return process.stdout_text() if process.exit_code == 0 else None

    def document_count(self):
        """Documents stored so far. Each call starts a Node process, so callers poll slowly."""
        text = self._read_back("count")
        return int(text.strip()) if text else 0

    def documents(self):
        """Return every stored document as (None, document). The server keeps no write time
        finer than a second, so document_metrics uses the documents' destStamp instead."""
        text = self._read_back("dump")
        return [(None, document) for document in json.loads(text)] if text else []

    def final_documents(self):
        return self.documents()

    def stop(self):
        self.service.stop()
