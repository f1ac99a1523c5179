"""Benchmark the builtin report engine: warm kernel vs a fresh process per report.

Run by hand from the project root::

    .venv/bin/python bench/bench_reports.py --count 50
"""

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reports.rendering import render_report, shutdown  # noqa: E402
from tests.reports.sample_data import make_report_data  # noqa: E402

GOAL_REPORT_SECONDS = 0.5
GOAL_BATCH_SECONDS = 300
GOAL_RSS_MB = 300


class PeakRss:
    """Sample the memory of this process and all its children in the background.

    RSS counts shared library pages once per process; USS (memory only that
    process holds) is what another worker could not share, so both are kept.
    """

    def __init__(self, interval=0.05):
        self.interval = interval
        self.peak = 0
        self.peak_uss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = psutil.Process()
        while not self._stop.is_set():
            total = unique = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    info = proc.memory_full_info()
                except psutil.Error:
                    continue
                total += info.rss
                unique += info.uss
            self.peak = max(self.peak, total)
            self.peak_uss = max(self.peak_uss, unique)
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def render_many(template, count, items):
    """Render count reports with the warm kernel; return per-report seconds."""
    render_report(template, make_report_data(items, seed=0), engine="builtin")
    times = []
    for i in range(count):
        started = time.perf_counter()
        render_report(template, make_report_data(items, seed=i + 1), engine="builtin")
        times.append(time.perf_counter() - started)
    return times


def _pool_worker(template, count, items, results):
    with PeakRss() as rss:
        times = render_many(template, count, items)
    shutdown()
    results.put((times, rss.peak, rss.peak_uss))


def run_pool(template, count, items, processes=2):
    """Render count reports split over worker processes; return wall time, peaks."""
    # Spawned, like a fresh worker: nothing inherited from this process.
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    share = [count // processes + (i < count % processes) for i in range(processes)]
    workers = [
        context.Process(target=_pool_worker, args=(template, n, items, results))
        for n in share
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    outcomes = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    # Each worker also rendered one warm-up report, outside the count.
    wall = time.perf_counter() - started
    return wall, [(peak, uss) for _, peak, uss in outcomes]


def fresh_process_seconds(template, runs, items):
    """Time rendering one report in a fresh Python process and kernel."""
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        data_file = Path(tmp) / "data.json"
        data_file.write_text(json.dumps(make_report_data(items)))
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, __file__, "--one", str(template), str(data_file)],
                check=True,
            )
            times.append(time.perf_counter() - started)
    return times


def p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def load_average():
    """Return the 1, 5 and 15 minute load averages as text."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def verdict(ok):
    return "ok" if ok else "MISSED"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--fresh", type=int, default=5)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument(
        "--template", default=str(ROOT / "templates" / "reports" / "comprehensive.qmd")
    )
    parser.add_argument("--one", nargs=2, metavar=("TEMPLATE", "DATA"))
    args = parser.parse_args()

    if args.one:
        template, data_file = args.one
        data = json.loads(Path(data_file).read_text())
        render_report(Path(template), data, engine="builtin")
        return

    template = Path(args.template)
    print(f"template {template.name}, {args.items} items, cpus {os.cpu_count()}")
    # Other jobs on the machine change every figure: print the load beside them.
    print(f"load average at start: {load_average()}")

    with PeakRss() as rss:
        times = render_many(template, args.count, args.items)
    shutdown()
    mean = statistics.mean(times)
    total = sum(times)
    print(f"\nwarm kernel, {args.count} reports in one process")
    print(
        f"  per report: mean {mean:.3f} s, p95 {p95(times):.3f} s"
        f"   goal <= {GOAL_REPORT_SECONDS} s: {verdict(mean <= GOAL_REPORT_SECONDS)}"
    )
    print(f"  total {total:.1f} s")
    print(
        f"  peak RSS (process + kernel) {rss.peak / 2**20:.0f} MB"
        f"   goal <= {GOAL_RSS_MB} MB: {verdict(rss.peak / 2**20 <= GOAL_RSS_MB)}"
    )
    print(f"  peak USS (process + kernel) {rss.peak_uss / 2**20:.0f} MB")
    print(f"  1,000 reports, 1 process (extrapolated): {1000 * mean:.0f} s")

    wall, peaks = run_pool(template, args.count, args.items)
    # The wall time includes each worker's kernel start and warm-up report.
    batch = 1000 * wall / args.count
    print(f"\n2-process pool, {args.count} reports: {wall:.1f} s wall")
    print(
        f"  1,000 reports on 2 cores (extrapolated, start-up included): {batch:.0f} s"
        f"   goal <= {GOAL_BATCH_SECONDS} s: {verdict(batch <= GOAL_BATCH_SECONDS)}"
    )
    print(
        "  peak per worker (process + kernel), RSS / USS: "
        + ", ".join(f"{r / 2**20:.0f} / {u / 2**20:.0f} MB" for r, u in peaks)
    )

    fresh = fresh_process_seconds(template, args.fresh, args.items)
    fresh_mean = statistics.mean(fresh)
    print(f"\nfresh Python process + kernel per report ({args.fresh} runs)")
    print(f"  per report: mean {fresh_mean:.2f} s, max {max(fresh):.2f} s")
    print(f"  fresh / warm: {fresh_mean / mean:.1f}x")
    print(f"\nload average at end: {load_average()}")


if __name__ == "__main__":
    main()
