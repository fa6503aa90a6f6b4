"""Scenarios: which contenders run, over which parameter points (cases), and how one run is
measured. Each contender is a command line built from the case and the running services, so a
new contender is one entry in a list.

Every run gets a fresh emulator (and a fresh sink for consumer runs), so no run receives
another's messages. Counts are bounded; --smoke shrinks them to a few hundred messages."""
import array
import os
import shlex
import statistics
import time
import urllib.error
import urllib.request

from . import services
from .procs import Process, ProcessTimeout, run_to_end
from .stats import percentile
from datetime import datetime, timezone

RUN_TIMEOUT_S = 900


class Contender:
    def __init__(self, name, role, binary, command):
        self.name = name
        self.role = role        # "ours", "peer" or "limit"
        self.binary = binary    # ctx.binary() key or a file under bench/, checked before runs
        self.command = command  # (ctx, case, services) -> (argv, extra env)


def command_line(ctx, contender, case, svc, run_dir, **options):
    """Return the contender's command and extra environment. With --wrap-ours (for example
    "perf record -g -o {dir}/perf.data --"), our binaries run under that prefix; {dir} is the
    run's log directory, kept for the profile."""
    argv, extra = contender.command(ctx, case, svc, **options)
    if contender.role == "ours" and ctx.wrap_ours:
        argv = [part.replace("{dir}", run_dir) for part in shlex.split(ctx.wrap_ours)] + argv
    return argv, extra


def node(ctx, script):
    return ["node", os.path.join(ctx.root, "bench/peers/node", script)]


# --- producer ---------------------------------------------------------------------------------

PRODUCERS = [
    Contender("ours", "ours", "producer", lambda ctx, case, svc: (
        [ctx.binary("producer"), "--count", case["count"], "--inflight", case["window"],
         "--body-size", case["size"], "--progress", "off"], {})),
    Contender("node-sdk", "peer", "node", lambda ctx, case, svc: (
        node(ctx, "producer.js") + ["--count", case["count"], "--size", case["size"]], {})),
    Contender("python-sdk", "peer", "python", lambda ctx, case, svc: (
        ["/usr/bin/python3", os.path.join(ctx.root, "bench/peers/python/producer.py"),
         "--count", case["count"], "--size", case["size"], "--ca-file", svc.emulator.ca_file],
        {"SERVICEBUS_CONNECTION_STRING": svc.emulator.tls_connection_string})),
    Contender("raw-proton", "limit", "raw_proton", lambda ctx, case, svc: (
        [ctx.binary("raw_proton"), "send", "--count", case["count"], "--inflight",
         case["window"], "--size", case["size"]], {})),
]


def producer_count(ctx, size):
    """Bounded by bytes as well as messages, so that 64 KB runs do not hold gigabytes."""
    if ctx.smoke:
        return 200
    return max(1000, min(200_000, 200_000_000 // size))


def run_producer(ctx, case, contender, run_dir):
    svc = ctx.start_services(run_dir, sink=False)
    try:
        argv, extra = command_line(ctx, contender, case, svc, run_dir)
        env = svc.emulator.env()
        env.update({k: str(v) for k, v in extra.items()})
        process = Process(contender.name, argv, run_dir, env=env, measured=True)
        process.wait(RUN_TIMEOUT_S)
        report = process.last_json()
        queued = services.drain_count(ctx, svc.emulator, run_dir)
    finally:
        svc.stop()
    count = case["count"]
    send_s = report.get("seconds") or report.get("duration_s") or process.wall_s
    return {
        "exit_code": process.exit_code,
        "messages": count,
        "delivered": queued,
        "ok": process.exit_code == 0 and queued == count,
        "wall_s": process.wall_s,
        "send_s": send_s,
        "msgs_per_s": queued / send_s if send_s else None,
        "cpu_user_s": process.cpu_user_s,
        "cpu_system_s": process.cpu_system_s,
        "cpu_s": process.cpu_s,
        "peak_rss_kb": process.peak_rss_kb,
        "error": None if process.exit_code == 0 else process.stderr_tail(),
    }


# --- consumer ---------------------------------------------------------------------------------

def our_consumer(ctx, case, svc, health_port=0):
    return ([ctx.binary("consumer"), "--concurrency", case["concurrency"],
             "--health-port", health_port, "--health-bind", "127.0.0.1",
             "--queue", svc.emulator.queue, "--log-level", "warn"], {})


def our_consumer_uncoalesced(ctx, case, svc, health_port=0):
    """Ours with wake-up coalescing turned off, to measure what the pause saves and costs."""
    argv, extra = our_consumer(ctx, case, svc, health_port)
    return argv + ["--coalesce-max", "0"], extra


def node_consumer(ctx, case, svc, health_port=0):
    return (node(ctx, "consumer.js") + ["--concurrency", case["concurrency"],
                                        "--health-port", health_port], {})


CONSUMERS = [
    Contender("ours", "ours", "consumer", our_consumer),
    Contender("node-sdk", "peer", "node", node_consumer),
]
# The throughput scenarios also run ours without wake-up coalescing, alternating with the rest.
CONSUMERS_COALESCING = [CONSUMERS[0],
                        Contender("ours-uncoalesced", "ours", "consumer",
                                  our_consumer_uncoalesced),
                        CONSUMERS[1]]

# The consumer's limit is the lower of two rates, each measured alone: the emulator's dispatch
# rate (a receiver that does no work) and the sink's request rate (wrk).
CONSUMER_LIMITS = [
    Contender("limit-dispatch", "limit", "raw_proton", None),
    Contender("limit-sink", "limit", "wrk", None),
]


def parse_stamp(text):
    parsed = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def document_metrics(documents, start_wall):
    """Counts, duplicates and latencies from the sink's log of (logged at, document), read once
    as it streams. Latencies go into a packed array of doubles, 8 bytes each."""
    ids = set()
    duplicates = 0
    latencies = array.array("d")
    last = None
    for logged_at, document in documents:
        if not document or "id" not in document:
            continue
        if logged_at is None:
            logged_at = parse_stamp(document["destStamp"])
        if document["id"] in ids:
            duplicates += 1
        ids.add(document["id"])
        last = logged_at if last is None else max(last, logged_at)
        # destStamp - srcStamp, both in microseconds; the sink's own time has only
        # millisecond resolution, so it serves when the document has no destStamp.
        if "srcStamp" in document:
            written_at = (parse_stamp(document["destStamp"]) if "destStamp" in document
                          else logged_at)
            latencies.append(written_at - parse_stamp(document["srcStamp"]))
    return {
        "documents": len(ids),
        "duplicates": duplicates,
        "last_document_s": (last - start_wall) if last is not None else None,
        "latency_p50_ms": percentile(latencies, 50) * 1000 if latencies else None,
        "latency_p99_ms": percentile(latencies, 99) * 1000 if latencies else None,
    }


RSS_SAMPLE_INTERVAL_S = 0.05


def watch_consumers(processes, sink, count, timeout_s, on_sample=None):
    """Waits until the sink contains `count` documents. Samples RSS every 50 ms and counts the
    sink's documents every sink.poll_interval_s. Returns the samples as (seconds since start,
    documents or None where the sink was not counted, [rss per process])."""
    samples = []
    start = processes[0].start_mono
    deadline = time.monotonic() + timeout_s
    next_count = 0.0
    while True:
        documents = None
        if time.monotonic() >= next_count:
            documents = sink.document_count()
            next_count = time.monotonic() + sink.poll_interval_s
        samples.append((time.monotonic() - start, documents, [p.rss_kb() for p in processes]))
        if on_sample:
            on_sample(samples[-1])
        if documents is not None and documents >= count:
            return samples
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.name} exited early ({process.exit_code}): "
                                   f"{process.stderr_tail()}")
        if time.monotonic() > deadline:
            raise ProcessTimeout(f"{documents} of {count} documents after {timeout_s} s")
        time.sleep(min(RSS_SAMPLE_INTERVAL_S, sink.poll_interval_s))


def counted_samples(samples):
    """Returns the samples with documents filled in. A sample taken between two counts of the
    sink gets the count interpolated linearly in time, and samples outside the counts are left
    out."""
    known = [(t, documents) for t, documents, _ in samples if documents is not None]
    filled = []
    index = 0
    for t, documents, rss in samples:
        while index + 1 < len(known) and known[index + 1][0] < t:
            index += 1
        if documents is None:
            if index + 1 >= len(known) or known[index][0] > t:
                continue
            (t0, d0), (t1, d1) = known[index], known[index + 1]
            documents = d0 + (d1 - d0) * (t - t0) / (t1 - t0)
        filled.append((t, documents, rss))
    return filled


def steady_rss(samples, count, index=0):
    """Median RSS while 25 % to 90 % of the documents were written, in KiB."""
    values = [rss[index] for _, documents, rss in counted_samples(samples)
              if 0.25 * count <= documents <= 0.9 * count and rss[index]]
    return statistics.median(values) if values else None


def consumer_env(svc):
    env = svc.emulator.env()
    env.update(svc.sink.env())
    return env


def run_consumer_limit(ctx, case, contender, run_dir):
    count = case["count"]
    if contender.name == "limit-sink":
        svc = ctx.start_services(run_dir, emulator=False)
        try:
            duration = 1 if ctx.smoke else 3
            process = run_to_end("wrk", ["wrk", "-t1", f"-c{case['concurrency']}",
                                         f"-d{duration}s", "-s",
                                         os.path.join(ctx.root, "bench/sinks/upsert.lua"),
                                         svc.sink.endpoint], run_dir, timeout_s=60)
        finally:
            svc.stop()
        rate = None
        for line in process.stdout_text().splitlines():
            if line.startswith("Requests/sec:"):
                rate = float(line.split()[1])
        return {"exit_code": process.exit_code, "ok": rate is not None, "msgs_per_s": rate,
                "wall_s": duration, "messages": None}
    svc = ctx.start_services(run_dir, sink=False)
    try:
        services.seed(ctx, svc.emulator, count, run_dir)
        process = Process("raw-receive", [ctx.binary("raw_proton"), "receive", "--count", count,
                                          "--inflight", case["concurrency"]],
                          run_dir, env=svc.emulator.env(), measured=True)
        process.wait(RUN_TIMEOUT_S)
    finally:
        svc.stop()
    report = process.last_json()
    return {"exit_code": process.exit_code, "ok": report.get("received") == count,
            "messages": count, "msgs_per_s": report.get("msgs_per_s"),
            "wall_s": report.get("seconds"),
            "cpu_s": process.cpu_s,
            "peak_rss_kb": process.peak_rss_kb}


def run_consumer(ctx, case, contender, run_dir):
    if contender.role == "limit":
        return run_consumer_limit(ctx, case, contender, run_dir)
    count = case["count"]
    svc = ctx.start_services(run_dir, sink=case.get("sink", "nginx"),
                             delay_ms=case.get("delay_ms", 0))
    try:
        services.seed(ctx, svc.emulator, count, run_dir)
        argv, extra = command_line(ctx, contender, case, svc, run_dir)
        env = consumer_env(svc)
        env.update({k: str(v) for k, v in extra.items()})
        process = Process(contender.name, argv, run_dir, env=env, measured=True)
        error = None
        try:
            samples = watch_consumers([process], svc.sink, count, RUN_TIMEOUT_S)
        except (RuntimeError, ProcessTimeout) as failure:
            samples, error = [], str(failure)
        exit_code = process.stop(grace_s=30)
        remaining = services.drain_count(ctx, svc.emulator, run_dir)
        metrics = document_metrics(svc.sink.final_documents(), process.start_wall)
    finally:
        svc.stop()
    cpu_s = process.cpu_s
    wall_s = metrics["last_document_s"]
    metrics.update({
        "exit_code": exit_code,
        "messages": count,
        "remaining": remaining,
        "ok": error is None and exit_code == 0 and metrics["documents"] == count
              and remaining == 0,
        "error": error,
        "wall_s": wall_s,
        "msgs_per_s": count / wall_s if wall_s else None,
        "cpu_user_s": process.cpu_user_s,
        "cpu_system_s": process.cpu_system_s,
        "cpu_s": cpu_s,
        "cpu_s_per_10k": cpu_s / count * 10000,
        "peak_rss_kb": process.peak_rss_kb,
        "steady_rss_kb": steady_rss(samples, count),
    })
    return metrics


# --- cold start and memory --------------------------------------------------------------------

def readyz_ok(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


def run_coldstart(ctx, case, contender, run_dir):
    count = case["count"]
    svc = ctx.start_services(run_dir)
    try:
        services.seed(ctx, svc.emulator, count, run_dir)
        port = services.free_port()
        argv, extra = command_line(ctx, contender, case, svc, run_dir, health_port=port)
        env = consumer_env(svc)
        env.update({k: str(v) for k, v in extra.items()})
        process = Process(contender.name, argv, run_dir, env=env, measured=True)
        ready_s = first_s = None
        deadline = time.monotonic() + 60
        # Polls /readyz every millisecond or so. The first document's time is the one nginx
        # logged with it, so the 200 ms flush of the sink's log delays only this loop.
        while (ready_s is None or first_s is None) and time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if ready_s is None and readyz_ok(port):
                ready_s = time.monotonic() - process.start_mono
            if first_s is None and svc.sink.document_count() > 0:
                first_s = min(t for t, _ in svc.sink.documents()) - process.start_wall
            time.sleep(0.001)
        error = None
        try:
            watch_consumers([process], svc.sink, count, 120)
        except (RuntimeError, ProcessTimeout) as failure:
            error = str(failure)
        time.sleep(0.5 if ctx.smoke else 3)
        idle_rss = process.rss_kb()
        exit_code = process.stop(grace_s=30)
        metrics = document_metrics(svc.sink.final_documents(), process.start_wall)
    finally:
        svc.stop()
    metrics.update({
        "exit_code": exit_code,
        "messages": count,
        "ok": error is None and ready_s is not None and first_s is not None
              and metrics["documents"] == count,
        "error": error,
        "ready_ms": ready_s * 1000 if ready_s is not None else None,
        "first_document_ms": first_s * 1000 if first_s is not None else None,
        "idle_rss_kb": idle_rss,
        "peak_rss_kb": process.peak_rss_kb,
        "cpu_s": process.cpu_s,
    })
    return metrics


# --- drain ------------------------------------------------------------------------------------

def run_drain(ctx, case, contender, run_dir):
    count = case["count"]
    svc = ctx.start_services(run_dir)
    processes = []
    try:
        services.seed(ctx, svc.emulator, count, run_dir)
        env = consumer_env(svc)
        for index in range(case["consumers"]):
            argv, extra = command_line(ctx, contender, case, svc, run_dir)
            env_one = dict(env, **{k: str(v) for k, v in extra.items()})
            processes.append(Process(f"{contender.name}-{index}", argv, run_dir, env=env_one,
                                     measured=True))
        error = None
        try:
            samples = watch_consumers(processes, svc.sink, count, RUN_TIMEOUT_S)
        except (RuntimeError, ProcessTimeout) as failure:
            samples, error = [], str(failure)
        exit_codes = [process.stop(grace_s=30) for process in processes]
        emulator_cpu_s = svc.emulator.cpu_s()
        sink_cpu_s = svc.sink.cpu_s()
        remaining = services.drain_count(ctx, svc.emulator, run_dir)
        metrics = document_metrics(svc.sink.final_documents(), processes[0].start_wall)
    finally:
        for process in processes:
            process.stop(grace_s=5)
        svc.stop()
    cpu_s = sum(p.cpu_s for p in processes)
    metrics.update({
        "exit_code": max(exit_codes, key=abs),
        "messages": count,
        "remaining": remaining,
        "ok": error is None and all(code == 0 for code in exit_codes)
              and metrics["documents"] == count and remaining == 0,
        "error": error,
        "wall_s": metrics["last_document_s"],
        "msgs_per_s": count / metrics["last_document_s"] if metrics["last_document_s"] else None,
        "cpu_s": cpu_s,
        "cpu_s_per_10k": cpu_s / count * 10000,
        "peak_rss_kb": max(p.peak_rss_kb for p in processes),
        "timeline": [(round(t, 3), documents) for t, documents, _ in samples
                     if documents is not None],
        # The services' CPU over the whole run, seeding included, to show what shares the cores.
        "emulator_cpu_s": emulator_cpu_s,
        "sink_cpu_s": sink_cpu_s,
    })
    return metrics


# --- soak -------------------------------------------------------------------------------------

def slope_kb_per_min(points):
    """Least-squares slope of (seconds, KiB) points, in KiB per minute."""
    if len(points) < 2:
        return None
    mean_t = statistics.fmean(t for t, _ in points)
    mean_v = statistics.fmean(v for _, v in points)
    denominator = sum((t - mean_t) ** 2 for t, _ in points)
    if denominator == 0:
        return None
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / denominator * 60


def run_soak(ctx, case, contender, run_dir):
    duration = case["duration_s"]
    rate = case["rate"]
    count = duration * rate
    svc = ctx.start_services(run_dir)
    try:
        argv, extra = command_line(ctx, contender, case, svc, run_dir)
        env = consumer_env(svc)
        env.update({k: str(v) for k, v in extra.items()})
        consumer = Process(contender.name, argv, run_dir, env=env, measured=True)
        producer = Process("producer", [ctx.binary("producer"), "--count", count, "--rate", rate,
                                        "--inflight", 100], run_dir, env=svc.emulator.env())
        points = []
        error = None
        last_sample = 0.0

        def sample(entry):
            nonlocal last_sample
            elapsed, _, rss = entry
            if elapsed - last_sample >= 1.0 and rss[0]:
                points.append((elapsed, rss[0]))
                last_sample = elapsed

        try:
            watch_consumers([consumer], svc.sink, count, duration * 3 + 120, on_sample=sample)
        except (RuntimeError, ProcessTimeout) as failure:
            error = str(failure)
        producer_exit = producer.stop(grace_s=30)
        exit_code = consumer.stop(grace_s=30)
        remaining = services.drain_count(ctx, svc.emulator, run_dir)
        metrics = document_metrics(svc.sink.final_documents(), consumer.start_wall)
    finally:
        svc.stop()
    # The first fifth is warm-up (allocator arenas, connection pools); the slope is over the rest.
    settled = [p for p in points if p[0] >= duration / 5]
    metrics.update({
        "exit_code": exit_code,
        "producer_exit_code": producer_exit,
        "messages": count,
        "remaining": remaining,
        "ok": error is None and exit_code == 0 and producer_exit == 0
              and metrics["documents"] == count and remaining == 0,
        "error": error,
        "wall_s": metrics["last_document_s"],
        "rss_first_kb": settled[0][1] if settled else None,
        "rss_last_kb": settled[-1][1] if settled else None,
        "rss_max_kb": max(v for _, v in points) if points else None,
        "rss_slope_kb_per_min": slope_kb_per_min(settled),
        "peak_rss_kb": consumer.peak_rss_kb,
        "cpu_s": consumer.cpu_s,
        "rss_points": points,
    })
    return metrics


# --- the table --------------------------------------------------------------------------------

class Scenario:
    def __init__(self, name, title, run, contenders, cases, smoke_cases, key, needs=()):
        self.name = name
        self.needs = needs            # binaries the scenario itself runs besides contenders
        self.title = title
        self.run = run
        self.contenders = contenders
        self.cases = cases            # (ctx) -> list of case dicts
        self.smoke_cases = smoke_cases
        self.key = key                # the case parameter that the plot's x axis shows


def producer_window_cases(ctx):
    return [{"window": w, "size": 200, "count": producer_count(ctx, 200)}
            for w in (1, 10, 100, 1000)]


def producer_size_cases(ctx):
    return [{"window": 100, "size": s, "count": producer_count(ctx, s)}
            for s in (200, 4096, 65536)]


def consumer_cases(ctx):
    return [{"concurrency": c, "count": 10000} for c in (1, 8, 32, 128)]


def remote_cases(ctx):
    # nginx waits on a timer and has capacity to spare, so a round trip is the delay alone and
    # throughput is bounded by concurrency / delay. Its timers expire on millisecond ticks, so
    # responses come in bursts, not spread out as from a real account. The strict server also
    # does work for every document, as a busy account would.
    return ([{"concurrency": c, "count": 20000, "sink": "nginx", "delay_ms": 5}
             for c in (8, 32, 128)]
            + [{"concurrency": c, "count": 20000, "sink": "strict", "delay_ms": 5}
               for c in (8, 32)])


SCENARIOS = [
    Scenario("producer-window", "Producer throughput by in-flight window (200-byte body)",
             run_producer, PRODUCERS, producer_window_cases,
             lambda ctx: [{"window": 100, "size": 200, "count": 200}], "window"),
    Scenario("producer-size", "Producer throughput by message size (window 100)",
             run_producer, PRODUCERS, producer_size_cases,
             lambda ctx: [{"window": 100, "size": 4096, "count": 100}], "size"),
    Scenario("consumer", "Consumer throughput and CPU per 10,000 messages into the nginx sink",
             run_consumer, CONSUMERS_COALESCING + CONSUMER_LIMITS, consumer_cases,
             lambda ctx: [{"concurrency": 8, "count": 200}], "concurrency"),
    Scenario("consumer-strict",
             "Consumer into the strict Cosmos test server over HTTPS (signatures checked)",
             run_consumer, CONSUMERS_COALESCING,
             lambda ctx: [{"concurrency": 32, "count": n, "sink": "strict"}
                          for n in (5000, 10000, 20000)],
             lambda ctx: [{"concurrency": 8, "count": 100, "sink": "strict"}], None),
    Scenario("consumer-remote",
             "Consumer into sinks that hold each document response 5 ms, as a remote account "
             "would",
             run_consumer, CONSUMERS_COALESCING, remote_cases,
             lambda ctx: [{"concurrency": 8, "count": 100, "sink": "nginx", "delay_ms": 5}],
             None),
    Scenario("coldstart", "Cold start to /readyz 200 and to the first document; idle RSS",
             run_coldstart, CONSUMERS, lambda ctx: [{"concurrency": 32, "count": 100}],
             lambda ctx: [{"concurrency": 32, "count": 20}], None),
    Scenario("drain", "Drain of 100,000 messages by 1, 2 and 4 consumer processes",
             run_drain, CONSUMERS[:1],
             lambda ctx: [{"consumers": n, "concurrency": 32, "count": 100000}
                          for n in (1, 2, 4)],
             lambda ctx: [{"consumers": 2, "concurrency": 8, "count": 300}], "consumers"),
    Scenario("soak", "Soak: RSS of one consumer at a steady rate",
             run_soak, CONSUMERS[:1],
             lambda ctx: [{"duration_s": ctx.soak_duration_s, "rate": ctx.soak_rate,
                           "concurrency": 32}],
             lambda ctx: [{"duration_s": 3, "rate": 100, "concurrency": 8}], None,
             needs=("producer",)),
]

SCENARIOS_BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
