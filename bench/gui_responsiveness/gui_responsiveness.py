"""GUI event-loop stalls while technician wizards provision units (issue 9 target: <= 50 ms).

    .venv/bin/python bench/gui_responsiveness/gui_responsiveness.py [runs] [--baud N] [--units N]

A `QTimer` (PreciseTimer, every 5 ms) runs on the GUI thread for the whole run; its
lateness (time since its previous tick minus 5 ms) is how long the event loop could not
answer. Two scenarios per run, each against the in-process emulators of demo mode (IoT
Central, Sectigo; DPS off) and simulated instruments on a line paced at `--baud`:

- **one wizard**: a technician wizard provisions `--units` units one after the other
  (Look again, choose the instrument, scan its label as a keyboard-wedge burst, Provision);
- **four wizards**: four wizards, one per instrument, provision at the same time.

Mixed products: mx200 (on-device EC P-256), mx300 (workstation RSA-2048), vx10 (on-device
EC P-384), lx5 (workstation EC P-256). Prints per run the longest stall and the 99th
percentile, then the median and maximum of the longest stall over the runs. A first run
(warm-up: modules imported on first use, registry and HTTP clients opened) is printed but
not counted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TICK_MS = 5
PRODUCTS = ("mx200", "mx300", "vx10", "lx5")


class StallMeter:
    """Lateness of a 5 ms timer on the GUI thread."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.late: list[float] = []
        self._last: float | None = None

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.late.append(max(0.0, (now - self._last) * 1000 - TICK_MS))
        self._last = now

    def start(self) -> None:
        self.late.clear()
        self._last = None
        self.timer.start()

    def stop(self) -> tuple[float, float, int]:
        self.timer.stop()
        ordered = sorted(self.late)
        p99 = ordered[int(len(ordered) * 0.99)] if ordered else 0.0
        return (ordered[-1] if ordered else 0.0), p99, len(ordered)


def wait(condition, timeout_s: float = 120.0) -> None:
    """Run the event loop (not a busy loop: the meter's timer keeps ticking) until `condition()`."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    deadline = time.monotonic() + timeout_s
    poll = QTimer()
    poll.setInterval(10)

    def check() -> None:
        if condition() or time.monotonic() > deadline:
            loop.quit()

    poll.timeout.connect(check)
    poll.start()
    if not condition():
        loop.exec()
    poll.stop()
    if not condition():
        raise TimeoutError("the wizard did not get there in time")


class Driver:
    """One technician wizard driven like a technician: choose, scan (a wedge burst), Provision."""

    def __init__(self, demo, options) -> None:
        from certbench.gui.wizards.technician_wizard import TechnicianWizard

        self.demo = demo
        self.wizard = TechnicianWizard(demo.settings, demo=demo, operator="bench", options=options)
        self.wizard.show()
        self.failures: list[str] = []

    def provision(self, port: str, model: str, serial: str) -> None:
        """Start one unit and return once it is provisioning."""
        from certbench.gui.wizards import tech_bench
        from certbench.gui.wizards.tech_scanning import type_burst
        from certbench.gui.wizards.technician_wizard import PAGE_CONFIRM, PAGE_PROVISION, PAGE_SCAN

        w = self.wizard
        if self.done():
            w.next_unit()  # lands on the scan page with the same instrument
        if w.currentId() == PAGE_SCAN:
            w.back()  # to choose the newly plugged instrument
        page = w.instrument_page
        wait(lambda: not page.searching)
        page.refresh()
        wait(lambda: not page.searching and any(r.port == port for r in page.rows))
        page.select_port(port)
        w.next()
        typed = []
        type_burst(w, tech_bench.gs1_label(self.demo.settings, model, serial), on_done=lambda: typed.append(1))
        wait(lambda: bool(typed) and w.currentId() == PAGE_CONFIRM and not w.confirm_page.checking)
        if not w.confirm_page.isComplete():
            raise RuntimeError(w.confirm_page.verdict.text())
        w.next()
        assert w.currentId() == PAGE_PROVISION

    def done(self) -> bool:
        from certbench.gui.wizards.technician_wizard import PAGE_RESULT

        return self.wizard.currentId() == PAGE_RESULT

    def check(self) -> None:
        if self.wizard.outcome is None:
            raise RuntimeError(f"unit failed: {self.wizard.error}")


def run_once(app, demo, options, units: int, run: int) -> dict[str, tuple[float, float, int, float]]:
    meter = StallMeter()
    figures = {}

    # One wizard, units one after the other.
    driver = Driver(demo, options)
    ports = []
    for i in range(units):
        model = PRODUCTS[i % len(PRODUCTS)]
        serial = f"B{run:02d}S{i:03d}{model[:2].upper()}"
        ports.append((demo.add_instrument(model, serial), model, serial))
    meter.start()
    started = time.perf_counter()
    for port, model, serial in ports:
        driver.provision(port, model, serial)
        wait(driver.done)
        driver.check()
    elapsed = time.perf_counter() - started
    figures["one wizard"] = (*meter.stop(), elapsed)
    driver.wizard.close()
    driver.wizard.deleteLater()

    # Four wizards at once, one per instrument.
    drivers = [Driver(demo, options) for _ in PRODUCTS]
    jobs = []
    for i, model in enumerate(PRODUCTS):
        serial = f"P{run:02d}S{i:03d}{model[:2].upper()}"
        jobs.append((demo.add_instrument(model, serial), model, serial))
    meter.start()
    started = time.perf_counter()
    for driver, (port, model, serial) in zip(drivers, jobs, strict=True):
        driver.provision(port, model, serial)  # each returns once its run has started
    wait(lambda: all(d.done() for d in drivers))
    elapsed = time.perf_counter() - started
    figures["four wizards"] = (*meter.stop(), elapsed)
    for driver in drivers:
        driver.check()
        driver.wizard.close()
        driver.wizard.deleteLater()
    app.processEvents()
    return figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="?", type=int, default=5)
    parser.add_argument("--baud", type=int, default=115200, help="simulated line speed (0: unpaced)")
    parser.add_argument("--units", type=int, default=4, help="units in the one-wizard scenario")
    args = parser.parse_args(argv)

    from certbench.core.demo import DemoHome, DemoServices

    with DemoHome(), tempfile.TemporaryDirectory(prefix="certbench-bench-") as tmp:
        from certbench.core.workflows.unit_steps import ProvisionOptions
        from certbench.gui.app import create_application
        from certbench.gui.wizards import tech_bench

        app = create_application([])
        options = ProvisionOptions(collect_poll_interval=0.05, collect_poll_max_interval=0.2)
        with DemoServices(Path(tmp) / "services", dps=False, paced_baud=args.baud or None) as demo:
            results: dict[str, list[tuple[float, float, int, float]]] = {}
            for run in range(args.runs + 1):
                label = "warm-up" if run == 0 else f"run {run}"
                for name, fig in run_once(app, demo, options, args.units, run).items():
                    if run:
                        results.setdefault(name, []).append(fig)
                    print(f"{label}: {name:12s} longest stall {fig[0]:6.1f} ms, p99 {fig[1]:5.1f} ms "
                          f"({fig[2]} ticks, {fig[3]:.1f} s)", flush=True)
            tech_bench.close_shared_envs()
    print()
    print(f"runs: {args.runs} after a warm-up (first use imports modules and opens the registry); line {args.baud or 'unpaced'} baud; timer every {TICK_MS} ms; "
          f"Python {sys.version.split()[0]}")
    for name, figs in results.items():
        stalls = [f[0] for f in figs]
        p99s = [f[1] for f in figs]
        print(f"{name:12s} longest stall: median {statistics.median(stalls):5.1f} ms, max {max(stalls):5.1f} ms; "
              f"p99 median {statistics.median(p99s):4.1f} ms; target <= 50 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
