"""Workflow overhead per unit with every external latency at zero: IoT Central, Sectigo (no
pending phase) in-process over real HTTPS, the instrument simulator unpaced in-process, the
registry a real SQLite file. Everything a unit costs here is Certbench's own work plus the
emulators' (TLS, signing) and the simulator's: an upper bound of the workflow's overhead.

    .venv/bin/python bench/workflow/bench_overhead.py [--runs 5] [--units 10] [--profile mx300]

The registration check is left out (its time is the DPS service's polling interval, an
external latency); `--with-registration` adds it. See README.md for the figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from certbench.core.demo import DemoHome, DemoServices
from certbench.core.workflows.unit_provisioning import provision_unit
from certbench.core.workflows.unit_steps import ProvisionOptions

CASES = {  # label -> product (key origin and algorithm from the demo catalogue)
    "on-device P-256 (mx200)": "mx200",
    "workstation RSA-2048 (mx300)": "mx300",
    "on-device P-384 (vx10)": "vx10",
    "workstation P-256 (lx5)": "lx5",
}
TARGETS = {"mx200": 150.0, "mx300": 400.0}


def run_once(model: str, units: int, registration: bool) -> tuple[list[float], dict[str, list[float]]]:
    times: list[float] = []
    steps: dict[str, list[float]] = {}
    options = ProvisionOptions(check_registration=registration, collect_poll_interval=0.01,
                               collect_poll_max_interval=0.05)
    with tempfile.TemporaryDirectory() as folder, DemoHome(Path(folder)), DemoServices(dps=registration) as services:
        with services.bench_env() as env:
            # one warm-up unit: first TLS connections, imports, caches
            for n in range(units + 1):
                serial = f"B{model.upper()}{n:04d}"
                port = services.add_instrument(model, serial)
                events = []
                started = time.perf_counter()
                outcome = provision_unit(env, serial, port, model=model, options=options, progress=events.append)
                elapsed = (time.perf_counter() - started) * 1000
                services.retire_instrument(port)
                assert outcome.state == "done", outcome
                if n == 0:
                    continue
                times.append(elapsed)
                begun = {}
                for event in events:
                    if event.status == "started" and event.step not in begun:
                        begun[event.step] = event.at
                    elif event.status in ("done", "skipped") and event.step in begun:
                        steps.setdefault(event.step, []).append((event.at - begun.pop(event.step)).total_seconds() * 1000)
    return times, steps


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--units", type=int, default=10, help="units per run (after one warm-up unit)")
    parser.add_argument("--models", default="mx200,mx300,vx10,lx5")
    parser.add_argument("--with-registration", action="store_true")
    parser.add_argument("--steps", action="store_true", help="also print the median per step")
    args = parser.parse_args(argv)
    models = args.models.split(",")
    print(f"Workflow overhead per unit, {args.runs} runs x {args.units} units, registration "
          f"{'on' if args.with_registration else 'off'}; ms per unit")
    print(f"{'case':<32} {'median':>8} {'runs (medians)':<40} {'target':>8}")
    verdicts = []
    for label, model in CASES.items():
        if model not in models:
            continue
        medians, all_steps = [], {}
        for _ in range(args.runs):
            times, steps = run_once(model, args.units, args.with_registration)
            medians.append(statistics.median(times))
            for step, values in steps.items():
                all_steps.setdefault(step, []).extend(values)
        median = statistics.median(medians)
        target = TARGETS.get(model)
        verdict = "" if target is None else ("<= %.0f ok" % target if median <= target else "> %.0f MISSED" % target)
        verdicts.append(target is None or median <= target)
        print(f"{label:<32} {median:8.1f} {' '.join(f'{m:.0f}' for m in medians):<40} {verdict:>8}")
        if args.steps:
            print("    " + ", ".join(f"{s} {statistics.median(v):.1f}" for s, v in all_steps.items()))
        sys.stdout.flush()
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
