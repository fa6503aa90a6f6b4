"""bench/run: builds in Release, runs the chosen scenarios with contenders alternating
(A B C A B C ...), writes every run's metrics to bench/results/ and prints a markdown summary."""
import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from . import procs, report, services
from .scenarios import SCENARIOS, SCENARIOS_BY_NAME

BINARIES = {
    "producer": "producer/producer",
    "consumer": "consumer/consumer",
    "emulator": "tests/emulators/servicebus/servicebus-emulator",
    "raw_proton": "bench/raw_proton",
    "measure": "bench/bench_measure",
}
TARGETS = ["producer", "consumer", "servicebus-emulator", "raw_proton", "bench_measure"]


class Services:
    def __init__(self, emulator, sink):
        self.emulator = emulator
        self.sink = sink

    def stop(self):
        for service in (self.sink, self.emulator):
            if service is not None:
                try:
                    service.stop()
                except Exception as failure:  # a stop failure must not hide the run's result
                    print(f"bench: stopping a service failed: {failure}", file=sys.stderr)


class Context:
    def __init__(self, args, root, work_dir):
        self.root = root
        self.build_dir = args.build_dir
        self.smoke = args.smoke
        self.soak_duration_s = args.soak_duration
        self.soak_rate = args.soak_rate
        self.wrap_ours = args.wrap_ours
        self.work_dir = work_dir
        self.ca_dir = os.path.join(work_dir, "ca")
        subprocess.run([os.path.join(root, "tests/lib/ca.sh"), self.ca_dir], check=True)

    def binary(self, name):
        return os.path.join(self.build_dir, BINARIES[name])

    def missing(self, key):
        """Why the contender or helper `key` cannot run here, or None when it can."""
        if key in BINARIES:
            path = self.binary(key)
            return None if os.access(path, os.X_OK) else f"{path} is not built"
        if key == "node":
            modules = os.path.join(self.root, "node_modules/@azure/service-bus")
            return None if shutil.which("node") and os.path.isdir(modules) else \
                "node or node_modules missing (run scripts/setup)"
        if key == "python":
            probe = subprocess.run(["/usr/bin/python3", "-c", "import azure.servicebus"],
                                   capture_output=True)
            return None if probe.returncode == 0 else "azure-servicebus missing (python3-azure)"
        if key == "wrk":
            return None if shutil.which("wrk") else "wrk missing (run scripts/setup)"
        return f"unknown contender binary {key}"

    def start_services(self, run_dir, sink="nginx", emulator=True, delay_ms=0):
        """Starts a fresh emulator and sink ("nginx", "strict" or False for none). The sink
        delays every document response by `delay_ms`."""
        started_emulator = services.Emulator(self, run_dir) if emulator else None
        try:
            if sink == "strict":
                started_sink = services.StrictCosmos(self, run_dir, delay_ms)
            elif sink:
                started_sink = services.NginxSink(self, run_dir, delay_ms)
            else:
                started_sink = None
        except Exception:
            if started_emulator:
                started_emulator.stop()
            raise
        return Services(started_emulator, started_sink)


def build(root, build_dir):
    subprocess.run(["cmake", "-S", root, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
                    "-DWORKLOAD_TESTS=ON"], check=True, stdout=subprocess.DEVNULL)
    listed = subprocess.run(["cmake", "--build", build_dir, "--target", "help"],
                            capture_output=True, text=True, check=True).stdout
    targets = [t for t in TARGETS if f"... {t}" in listed]
    subprocess.run(["cmake", "--build", build_dir, "-j", str(os.cpu_count() or 2), "--target",
                    *targets], check=True, stdout=subprocess.DEVNULL)


def parse_args(argv, root):
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description="Run benchmark scenarios on loopback and summarise them. Scenarios: "
                    + ", ".join(s.name for s in SCENARIOS) + ", or all.")
    parser.add_argument("--scenario", default=None,
                        help="scenario name, a comma-separated list, or all (default: all "
                             "with --smoke, required otherwise)")
    parser.add_argument("--runs", type=int, default=5,
                        help="alternating runs per contender and case (default 5; 1 with --smoke)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny counts and one run each: checks that every contender works")
    parser.add_argument("--build-dir", default=os.path.join(root, "build/bench"),
                        help="where the C binaries are (default build/bench)")
    parser.add_argument("--no-build", action="store_true",
                        help="use the binaries in --build-dir as they are")
    parser.add_argument("--contenders", default=None,
                        help="comma-separated contender names to run (default: all)")
    parser.add_argument("--require", default="",
                        help="comma-separated binaries (producer, consumer, emulator, raw_proton) "
                             "whose absence is a failure rather than a skip")
    parser.add_argument("--results-dir", default=os.path.join(root, "bench/results"),
                        help="where raw results go (default bench/results, git-ignored)")
    parser.add_argument("--plots-dir", default=os.path.join(root, "docs/bench"),
                        help="where PNG plots go (default docs/bench; none with --smoke)")
    parser.add_argument("--soak-duration", type=int, default=600,
                        help="soak duration in seconds (default 600)")
    parser.add_argument("--soak-rate", type=int, default=2000,
                        help="soak producer rate in messages per second (default 2000)")
    parser.add_argument("--only", action="append", default=[], metavar="KEY=VALUE",
                        help="run only the cases whose parameter KEY equals VALUE, e.g. "
                             "--only concurrency=32 (repeatable)")
    parser.add_argument("--count", type=int, default=None,
                        help="messages per run in every case that has a count, in place of the "
                             "scenario's own (for example to amortise start-up over more "
                             "messages)")
    parser.add_argument("--wrap-ours", default=None,
                        help="command prefix for our binaries, for profiling, e.g. "
                             "'perf record -g -o {dir}/perf.data --' ({dir}: the run's log "
                             "directory; implies --keep-logs)")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep every run's process and sink logs")
    args = parser.parse_args(argv)
    if args.scenario is None:
        if not args.smoke:
            parser.error("--scenario is required (or --smoke); see --help for the names")
        args.scenario = "all"
    names = [s.name for s in SCENARIOS] if args.scenario == "all" else args.scenario.split(",")
    for name in names:
        if name not in SCENARIOS_BY_NAME:
            parser.error(f"unknown scenario {name!r}; expected one of "
                         + ", ".join(s.name for s in SCENARIOS) + " or all")
    args.scenarios = [SCENARIOS_BY_NAME[name] for name in names]
    if args.smoke:
        args.runs = 1
    if args.runs < 1:
        parser.error(f"invalid --runs {args.runs}: expected 1 or more")
    if args.count is not None and args.count < 1:
        parser.error(f"invalid --count {args.count}: expected 1 or more")
    if args.wrap_ours:
        args.keep_logs = True
    args.case_filter = {}
    for item in args.only:
        key, separator, value = item.partition("=")
        if not separator:
            parser.error(f"invalid --only {item!r}: expected KEY=VALUE, e.g. concurrency=32")
        args.case_filter[key] = value
    args.contender_filter = set(args.contenders.split(",")) if args.contenders else None
    args.required = {r for r in args.require.split(",") if r}
    return args


def _terminate(signum, frame):
    """Turns SIGTERM into an exit through the `finally` blocks, which stop what was started."""
    signal.signal(signum, signal.SIG_IGN)  # a second signal must not cut the clean-up short
    raise SystemExit(128 + signum)


def main(argv):
    signal.signal(signal.SIGTERM, _terminate)
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    args = parse_args(argv, root)
    if not args.no_build:
        build(root, args.build_dir)

    procs.MEASURE = os.path.join(args.build_dir, BINARIES["measure"])
    if not os.access(procs.MEASURE, os.X_OK):
        print(f"bench: {procs.MEASURE} is not built; build the bench_measure target",
              file=sys.stderr)
        return 2

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    label = "smoke" if args.smoke else "-".join(s.name for s in args.scenarios)
    out_dir = os.path.join(args.results_dir, f"{stamp}-{label}")
    os.makedirs(out_dir, exist_ok=True)
    write_meta(root, args, out_dir)
    work_dir = tempfile.mkdtemp(prefix="bench-")
    ctx = Context(args, root, work_dir)
    failures = []
    sections = []
    try:
        with open(os.path.join(out_dir, "runs.jsonl"), "w") as raw:
            for scenario in args.scenarios:
                results = run_scenario(ctx, args, scenario, out_dir, raw, failures)
                sections.append(report.scenario_markdown(scenario, results))
                if not args.smoke:
                    for png in report.plot(scenario, results, args.plots_dir, out_dir):
                        sections.append(f"Plot: {os.path.relpath(png, root)}\n")
    finally:
        procs.stop_all()
        shutil.rmtree(work_dir, ignore_errors=True)

    summary = "\n".join(sections)
    with open(os.path.join(out_dir, "summary.md"), "w") as out:
        out.write(summary)
    print(summary)
    print(f"bench: raw results in {os.path.relpath(out_dir, root)}")
    for failure in failures:
        print(f"bench: FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


def write_meta(root, args, out_dir):
    """Records what was measured: the commit, whether the work tree had changes, the machine."""
    def output(*command):
        result = subprocess.run(command, cwd=root, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else None

    meta = {
        "argv": sys.argv,
        "commit": output("git", "rev-parse", "HEAD"),
        "work_tree_changed": bool(output("git", "status", "--porcelain", "--untracked-files=no")),
        "cpus": os.cpu_count(),
        "kernel": os.uname().release,
        "build_dir": args.build_dir,
        "started_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }
    with open(os.path.join(out_dir, "meta.json"), "w") as out:
        json.dump(meta, out, indent=2)


def select_cases(cases, case_filter, count=None):
    """Returns the cases whose parameters match `case_filter` (key to value as text), with the
    message count set to `count` where a case has one. Cases that become equal run once."""
    selected = []
    for case in cases:
        if not all(str(case.get(key)) == value for key, value in case_filter.items()):
            continue
        if count is not None and "count" in case:
            case = dict(case, count=count)
        if case not in selected:
            selected.append(case)
    return selected


def round_order(contenders, run_index):
    """Returns the contenders in the order of round `run_index`, the list rotated by one place
    each round. Over a multiple of len(contenders) rounds every contender runs in every position
    equally often. A slow drift of the machine, or a cost of running right after another
    contender, therefore does not fall on one of them."""
    if not contenders:
        return []
    shift = run_index % len(contenders)
    return contenders[shift:] + contenders[:shift]


def run_scenario(ctx, args, scenario, out_dir, raw, failures):
    cases = select_cases(scenario.smoke_cases(ctx) if args.smoke else scenario.cases(ctx),
                         args.case_filter, args.count)
    contenders = [c for c in scenario.contenders
                  if args.contender_filter is None or c.name in args.contender_filter]
    skipped = {}
    for need in scenario.needs:
        reason = ctx.missing(need)
        if reason:
            if need in args.required:
                failures.append(f"{scenario.name}: {reason}")
            return [(case, {}, {c.name: reason for c in contenders}) for case in cases]
    runnable = []
    for contender in contenders:
        reason = ctx.missing(contender.binary)
        if reason:
            skipped[contender.name] = reason
            if contender.binary in args.required:
                failures.append(f"{scenario.name}/{contender.name}: {reason}")
        else:
            runnable.append(contender)

    results = []
    for case_index, case in enumerate(cases):
        runs = {c.name: [] for c in runnable}
        for run_index in range(args.runs):
            for position, contender in enumerate(round_order(runnable, run_index)):
                run_dir = os.path.join(out_dir, "logs", scenario.name, f"case{case_index}",
                                       f"{contender.name}-{run_index}")
                os.makedirs(run_dir, exist_ok=True)
                print(f"bench: {scenario.name} {report.case_label(case)} {contender.name} "
                      f"run {run_index + 1}/{args.runs}", file=sys.stderr, flush=True)
                try:
                    metrics = scenario.run(ctx, case, contender, run_dir)
                except Exception as failure:
                    metrics = {"ok": False, "error": f"{type(failure).__name__}: {failure}"}
                runs[contender.name].append(metrics)
                line = {"scenario": scenario.name, "case": case, "contender": contender.name,
                        "role": contender.role, "run": run_index, "position": position,
                        **metrics}
                raw.write(json.dumps(line) + "\n")
                raw.flush()
                if not metrics.get("ok"):
                    failures.append(f"{scenario.name} {report.case_label(case)} "
                                    f"{contender.name} run {run_index + 1}: "
                                    f"{summarize_failure(metrics)} (logs: {run_dir})")
                elif not args.keep_logs:
                    shutil.rmtree(run_dir, ignore_errors=True)
        results.append((case, runs, skipped))
    return results


def summarize_failure(metrics):
    keys = ("error", "exit_code", "messages", "delivered", "documents", "duplicates", "remaining")
    return ", ".join(f"{k}={metrics[k]!r}" for k in keys if metrics.get(k) is not None)
