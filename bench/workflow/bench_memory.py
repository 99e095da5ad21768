"""Memory of demo mode over a long run: `certbench demo --units 200` as a process (its peak
RSS), and the same run in this process with the resident set size read from
/proc/self/status after every unit, to see whether it grows between unit 50 and unit 200.

    .venv/bin/python bench/workflow/bench_memory.py [--units 200] [--parallel 4] [--runs 3]

Linux only (/proc). See README.md for the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def status_kb(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def cli_peak(units: int, parallel: int) -> tuple[float, dict]:
    """Peak RSS (MB) of a `certbench demo` process, and its summary."""
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, CERTBENCH_HOME=home, PYTHON_KEYRING_BACKEND="certbench.core.secrets.MemoryKeyring")
        proc = subprocess.Popen([sys.executable, "-m", "certbench.core", "demo", "--units", str(units), "--parallel",
                                 str(parallel), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                text=True)
        out, err = proc.communicate(timeout=1800)
        # the largest ru_maxrss of the children waited for: this helper process has only this one
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise RuntimeError(f"certbench demo failed ({proc.returncode}): {err[-2000:]}")
        return usage.ru_maxrss / 1024, json.loads(out)["summary"]


def in_process(units: int, parallel: int) -> tuple[list[float], float, dict]:
    """RSS (MB) after each unit, the process's peak (VmHWM, MB), and the summary."""
    from certbench.core.demo import DemoHome, DemoServices
    from certbench.core.demo_run import run_demo

    rss: list[float] = []

    def sample(unit) -> None:
        rss.append(status_kb("VmRSS") / 1024)

    with tempfile.TemporaryDirectory() as folder, DemoHome(Path(folder)), DemoServices() as services:
        report = run_demo(services, units, parallel=parallel, on_unit=sample)
    gc.collect()
    return rss, status_kb("VmHWM") / 1024, report.summary()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3, help="runs of the `certbench demo` process")
    parser.add_argument("--skip-cli", action="store_true")
    args = parser.parse_args(argv)
    ok = True
    if not args.skip_cli:
        peaks = []
        for run in range(args.runs):
            started = time.monotonic()
            # RUSAGE_CHILDREN keeps the largest child so far: run each in its own sub-interpreter.
            out = subprocess.run([sys.executable, __file__, "--cli-child", str(args.units), str(args.parallel)],
                                 capture_output=True, text=True, timeout=1800)
            if out.returncode != 0:
                print(out.stdout, out.stderr)
                return 1
            peak, rate, failed = json.loads(out.stdout)
            peaks.append(peak)
            print(f"certbench demo --units {args.units} --parallel {args.parallel}: peak RSS {peak:.1f} MB, "
                  f"{rate:.1f} units/min, {failed} failed ({time.monotonic() - started:.0f} s)")
            sys.stdout.flush()
        peak = statistics.median(peaks)
        ok &= peak <= 200
        print(f"median peak RSS of the demo process: {peak:.1f} MB (target <= 200 MB: {'ok' if peak <= 200 else 'MISSED'})")
    rss, hwm, summary = in_process(args.units, args.parallel)
    at = {n: rss[n - 1] for n in (1, 10, 50, 100, 150, 200) if n <= len(rss)}
    print("in-process RSS after unit " + ", ".join(f"{n}: {mb:.1f}" for n, mb in at.items()) + f" MB; peak {hwm:.1f} MB; "
          f"{summary['units_per_minute']:.1f} units/min, {summary['failed']} failed")
    if len(rss) >= 200:
        # median of 10 samples around each point: RSS moves a little with the units in flight
        early, late = statistics.median(rss[45:55]), statistics.median(rss[190:200])
        growth = late - early
        ok &= growth <= 10
        print(f"growth from unit 50 to unit 200: {growth:+.1f} MB (target <= 10 MB: {'ok' if growth <= 10 else 'MISSED'})")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--cli-child":
        peak_mb, summary = cli_peak(int(sys.argv[2]), int(sys.argv[3]))
        print(json.dumps([peak_mb, summary["units_per_minute"], summary["failed"]]))
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))
