"""The markdown summary of a harness run and its gnuplot plots."""
import os
import subprocess

from .stats import summarize

# Per scenario: (metric, column label, scale, decimals, better). `better` names the direction
# of an improvement, so that every ratio column reads "ours is N times better".
COLUMNS = {
    "producer-window": [("msgs_per_s", "msgs/s", 1, 0, "higher"), ("wall_s", "wall s", 1, 2, None),
                        ("cpu_s", "CPU s", 1, 2, "lower"),
                        ("peak_rss_kb", "peak RSS MB", 1 / 1024, 1, "lower")],
    "consumer": [("msgs_per_s", "msgs/s", 1, 0, "higher"),
                 ("cpu_s_per_10k", "CPU s / 10k msgs", 1, 3, "lower"),
                 ("steady_rss_kb", "steady RSS MB", 1 / 1024, 1, "lower"),
                 ("peak_rss_kb", "peak RSS MB", 1 / 1024, 1, "lower"),
                 ("latency_p50_ms", "backlog age p50 ms", 1, 0, None),
                 ("latency_p99_ms", "backlog age p99 ms", 1, 0, None)],
    "coldstart": [("ready_ms", "to /readyz 200 ms", 1, 1, "lower"),
                  ("first_document_ms", "to first document ms", 1, 1, "lower"),
                  ("idle_rss_kb", "idle RSS MB", 1 / 1024, 1, "lower"),
                  ("peak_rss_kb", "peak RSS MB", 1 / 1024, 1, "lower")],
    "drain": [("wall_s", "drain s", 1, 2, "lower"), ("msgs_per_s", "msgs/s", 1, 0, "higher"),
              ("cpu_s_per_10k", "CPU s / 10k msgs", 1, 3, "lower"),
              ("peak_rss_kb", "peak RSS MB per process", 1 / 1024, 1, "lower"),
              ("emulator_cpu_s", "emulator CPU s", 1, 2, None),
              ("sink_cpu_s", "nginx CPU s", 1, 2, None)],
    "soak": [("wall_s", "s", 1, 0, None), ("rss_first_kb", "RSS after warm-up MB", 1 / 1024, 2, None),
             ("rss_last_kb", "RSS at end MB", 1 / 1024, 2, None),
             ("rss_max_kb", "RSS max MB", 1 / 1024, 2, None),
             ("rss_slope_kb_per_min", "RSS slope KiB/min", 1, 1, None),
             ("latency_p50_ms", "latency p50 ms", 1, 1, None),
             ("latency_p99_ms", "latency p99 ms", 1, 1, None)],
}
COLUMNS["producer-size"] = COLUMNS["producer-window"]
COLUMNS["consumer-strict"] = COLUMNS["consumer"]
COLUMNS["consumer-remote"] = COLUMNS["consumer"]


def fmt(value, scale, decimals):
    if value is None:
        return "–"
    return f"{value * scale:,.{decimals}f}"


def cell(summary, scale, decimals):
    if summary is None:
        return "–"
    text = fmt(summary["median"], scale, decimals)
    if summary["n"] > 1:
        text += f" ({fmt(summary['min'], scale, decimals)}–{fmt(summary['max'], scale, decimals)})"
    return text


def ratio(ours, other, better):
    """Return how many times better ours is than `other` (above 1 means ours is better)."""
    if ours is None or other is None or ours["median"] == 0 or other["median"] == 0:
        return None
    if better == "higher":
        return ours["median"] / other["median"]
    return other["median"] / ours["median"]


def case_label(case):
    return ", ".join(f"{k} {v}" for k, v in case.items())


def scenario_markdown(scenario, results):
    """results: list of (case, {contender: [metrics of each run]}, {contender: skip reason})."""
    columns = COLUMNS[scenario.name]
    ratio_columns = [c for c in columns if c[4]][:2]
    lines = [f"### {scenario.title}", ""]
    for case, runs, skipped in results:
        lines.append(f"{case_label(case)}; medians, (min–max) over the runs:")
        lines.append("")
        header = ["contender", "runs ok"] + [c[1] for c in columns]
        header += [f"{c[1]}: ours N× better" for c in ratio_columns]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        summaries = {name: {c[0]: summarize([m.get(c[0]) for m in metrics if m.get("ok")])
                            for c in columns} for name, metrics in runs.items()}
        ours = summaries.get("ours")
        for name, metrics in runs.items():
            ok = sum(1 for m in metrics if m.get("ok"))
            row = [name, f"{ok}/{len(metrics)}"]
            row += [cell(summaries[name][c[0]], c[2], c[3]) for c in columns]
            for c in ratio_columns:
                value = None if name == "ours" or ours is None else ratio(
                    ours[c[0]], summaries[name][c[0]], c[4])
                row.append("–" if value is None else f"{value:.2f}×")
            lines.append("| " + " | ".join(row) + " |")
        for name, reason in skipped.items():
            lines.append(f"| {name} | skipped: {reason} |" + " |" * (len(header) - 2))
        lines.append("")
    return "\n".join(lines)


def plot(scenario, results, out_dir, work_dir):
    """Writes docs-ready PNGs for the scenarios that have an x axis; returns their paths."""
    if scenario.name == "soak":
        os.makedirs(out_dir, exist_ok=True)
        return [plot_soak(results, out_dir, work_dir)]
    if scenario.key is None or len(results) < 2 and scenario.name != "drain":
        return []
    os.makedirs(out_dir, exist_ok=True)
    if scenario.name == "drain":
        return [plot_drain(results, out_dir, work_dir)]
    metric = "msgs_per_s"
    names = []
    for _, runs, _ in results:
        for name in runs:
            if name not in names:
                names.append(name)
    data_path = os.path.join(work_dir, f"{scenario.name}.dat")
    with open(data_path, "w") as data:
        for name in names:
            data.write(f'"{name}"\n')
            for case, runs, _ in results:
                summary = summarize([m.get(metric) for m in runs.get(name, []) if m.get("ok")])
                if summary:
                    data.write(f"{case[scenario.key]} {summary['median']} {summary['min']} "
                               f"{summary['max']}\n")
            data.write("\n\n")
    png = os.path.join(out_dir, f"{scenario.name}.png")
    logscale = "set logscale x 10" if scenario.key in ("window", "size", "concurrency") else ""
    script = f"""
set terminal pngcairo size 900,540 noenhanced
set output '{png}'
set title '{scenario.title}'
set xlabel '{scenario.key}'
set ylabel 'messages per second (median, bars: min-max)'
set logscale y 10
{logscale}
set grid
set key outside right
plot for [i=0:{len(names) - 1}] '{data_path}' index i using 1:2:3:4 with yerrorlines \
    title columnheader(1)
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    return [png]


def plot_drain(results, out_dir, work_dir):
    data_path = os.path.join(work_dir, "drain.dat")
    titles = []
    with open(data_path, "w") as data:
        for case, runs, _ in results:
            metrics = [m for m in runs.get("ours", []) if m.get("ok")]
            if not metrics:
                continue
            titles.append(f"{case['consumers']} consumer(s)")
            data.write(f'"{titles[-1]}"\n')
            for t, documents in metrics[0]["timeline"]:
                data.write(f"{t} {documents}\n")
            data.write("\n\n")
    png = os.path.join(out_dir, "drain.png")
    script = f"""
set terminal pngcairo size 900,540 noenhanced
set output '{png}'
set title 'Drain of a backlog: documents written over time (first run of each case)'
set xlabel 'seconds since the consumers started'
set ylabel 'documents written'
set grid
set key left top
plot for [i=0:{max(0, len(titles) - 1)}] '{data_path}' index i using 1:2 with lines lw 2 \
    title columnheader(1)
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    return png


def plot_soak(results, out_dir, work_dir):
    data_path = os.path.join(work_dir, "soak.dat")
    with open(data_path, "w") as data:
        for _, runs, _ in results:
            for metrics in runs.get("ours", []):
                if metrics.get("ok"):
                    for t, rss_kb in metrics["rss_points"]:
                        data.write(f"{t} {rss_kb / 1024}\n")
                    break
    png = os.path.join(out_dir, "soak.png")
    script = f"""
set terminal pngcairo size 900,540 noenhanced
set output '{png}'
set title 'Soak: RSS of one consumer while it writes a steady stream of documents'
set xlabel 'seconds since the consumer started'
set ylabel 'RSS (MB)'
set yrange [0:*]
set grid
plot '{data_path}' using 1:2 with lines lw 2 title 'ours'
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    return png
