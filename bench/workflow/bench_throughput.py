"""Throughput of one workstation driving 1, 2, 4, 8 simulated instruments at once: the whole
flow including the DPS registration check, the simulator paced at 115200 baud, the Sectigo
emulator keeping each order "being processed" for a random 1-3 s (as SCM does), IoT Central
and DPS emulators in-process. Units per minute and the scaling factor against one instrument.

    .venv/bin/python bench/workflow/bench_throughput.py [--runs 3] [--per-instrument 3] [--widths 1,2,4,8]

See README.md for the figures.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from pathlib import Path

from certbench.core.demo import DemoHome, DemoServices
from certbench.core.demo_run import run_demo
from certbench.core.emulators.sectigo.app import SectigoEmulator
from certbench.core.workflows.unit_steps import ProvisionOptions

BAUD = 115200
PENDING = (1.0, 3.0)
# What a bench would poll at against a real CA whose orders take seconds.
OPTIONS = ProvisionOptions(collect_poll_interval=0.5, collect_poll_max_interval=1.0, registration_timeout=60)


class _JitteredSectigo(SectigoEmulator):
    """The emulator with a random processing time per order (it takes one fixed value)."""

    _rng = random.Random(20261204)

    @property
    def pending_seconds(self) -> float:
        return self._rng.uniform(*PENDING)

    @pending_seconds.setter
    def pending_seconds(self, value: float) -> None:
        pass


def run_once(width: int, units: int) -> tuple[float, float, int]:
    """(units per minute, mean seconds per unit, failures)."""
    with tempfile.TemporaryDirectory() as folder, DemoHome(Path(folder)), DemoServices(paced_baud=BAUD) as services:
        services.sectigo.app.__class__ = _JitteredSectigo  # after start-up: the intermediates' own orders stay quick
        report = run_demo(services, units, parallel=width, options=OPTIONS)
    seconds = [u.seconds for u in report.units]
    return report.units_per_minute, statistics.mean(seconds), len(report.failed)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--per-instrument", type=int, default=3, help="units per instrument in each run")
    parser.add_argument("--widths", default="1,2,4,8")
    args = parser.parse_args(argv)
    widths = [int(w) for w in args.widths.split(",")]
    print(f"Throughput at {BAUD} baud, Sectigo pending {PENDING[0]:g}-{PENDING[1]:g} s, DPS registration on; "
          f"{args.runs} runs, {args.per_instrument} units per instrument per run")
    print(f"{'instruments':>11} {'units':>6} {'units/min':>10} {'s/unit':>7} {'scaling':>8} {'efficiency':>10}  runs (units/min)")
    base = None
    failures = 0
    for width in widths:
        rates, per_unit = [], []
        for _ in range(args.runs):
            rate, mean_seconds, failed = run_once(width, max(2, args.per_instrument * width))
            rates.append(rate)
            per_unit.append(mean_seconds)
            failures += failed
        rate = statistics.median(rates)
        base = base or rate / width
        scaling = rate / base
        print(f"{width:>11} {args.per_instrument * width:>6} {rate:10.1f} {statistics.median(per_unit):7.2f} "
              f"{scaling:8.2f} {scaling / width:10.0%}  {' '.join(f'{r:.1f}' for r in rates)}")
        sys.stdout.flush()
    if failures:
        print(f"{failures} unit(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
