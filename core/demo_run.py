"""Demo mode's run: N units through the whole workflow on the emulators (DemoServices), P at
a time, across the four demo products (on-device and workstation keys). Used by `certbench
demo` and the demo benchmarks; nothing here prints.

Each unit is a fresh simulated instrument on its own `sim:` port, retired (closed, forgotten)
as soon as its unit is finished, so a long demo holds only the units in flight.
"""

from __future__ import annotations

import secrets as _random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from certbench.core.demo import SIM_PORT_PREFIX, DemoServices
from certbench.core.workflows.parallel import UnitJob, UnitResult, provision_many
from certbench.core.workflows.unit_steps import ProvisionOptions

DEFAULT_UNITS = 8
DEFAULT_PARALLEL = 4
# The emulators answer at once: poll a pending order briskly, not at a real CA's pace.
DEMO_OPTIONS = ProvisionOptions(collect_poll_interval=0.1, collect_poll_max_interval=1.0, registration_timeout=30.0)


@dataclass(frozen=True)
class DemoUnit:
    """What the demo shows for one unit."""

    index: int
    serial: str
    model: str
    port: str
    ok: bool
    seconds: float
    cn: str | None = None
    key_origin: str | None = None
    order_id: str | None = None
    sha256: str | None = None
    registered: bool = False
    registration: str | None = None
    error: str | None = None
    reason: str | None = None
    hint: str | None = None

    @classmethod
    def from_result(cls, result: UnitResult) -> DemoUnit:
        job, outcome = result.job, result.outcome
        common = dict(index=result.index + 1, serial=str(job.scan), model=job.model or "", port=job.port,
                      ok=result.ok, seconds=round(result.seconds, 3))
        if outcome is not None:
            return cls(**common, cn=outcome.cn, key_origin=outcome.key_origin, order_id=outcome.order_id,
                       sha256=outcome.certificate_sha256,
                       registered=bool(outcome.registration and outcome.registration.startswith("assigned")),
                       registration=outcome.registration)
        return cls(**common, cn=result.cn, error=type(result.error).__name__, reason=result.reason, hint=result.hint)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class DemoReport:
    units: list[DemoUnit] = field(default_factory=list)
    seconds: float = 0.0
    parallel: int = 1
    setup_seconds: float = 0.0

    @property
    def failed(self) -> list[DemoUnit]:
        return [u for u in self.units if not u.ok]

    @property
    def units_per_minute(self) -> float:
        return 60.0 * len(self.units) / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        done = [u for u in self.units if u.ok]
        return {
            "units": len(self.units), "done": len(done), "failed": len(self.failed),
            "registered": sum(u.registered for u in done),
            "by_product": dict(Counter(u.model for u in done)),
            "by_key_origin": dict(Counter(u.key_origin for u in done)),
            "parallel": self.parallel, "seconds": round(self.seconds, 2),
            "setup_seconds": round(self.setup_seconds, 2),
            "units_per_minute": round(self.units_per_minute, 1),
            "failures": [{"serial": u.serial, "model": u.model, "cn": u.cn, "reason": u.reason, "hint": u.hint}
                         for u in self.failed],
        }


def demo_serials(count: int, models: list[str], tag: str | None = None) -> list[tuple[str, str]]:
    """(serial, model) for `count` units round-robin over `models`; the tag keeps two runs in
    one kept folder from scanning the same serial twice."""
    tag = tag or _random.token_hex(2).upper()
    return [(f"D{tag}{n + 1:05d}", models[n % len(models)]) for n in range(count)]


def run_demo(
    services: DemoServices,
    units: int,
    *,
    parallel: int = DEFAULT_PARALLEL,
    on_unit: Callable[[DemoUnit], None] | None = None,
    options: ProvisionOptions = DEMO_OPTIONS,
    stop: threading.Event | None = None,
    setup_seconds: float = 0.0,
) -> DemoReport:
    """Provision `units` demo units on `services` (started), `parallel` at a time."""
    settings = services.settings
    jobs, waiting = [], {}
    for serial, model in demo_serials(units, [p.model for p in settings.products]):
        port = f"{SIM_PORT_PREFIX}{serial}"
        waiting[port] = (model, serial)
        jobs.append(UnitJob(serial, port, model=model))
    lock = threading.Lock()

    def open_transport(port: str):
        # The instrument is "plugged in" when its unit starts: only units in flight are in memory.
        with lock:
            if port in waiting:
                model, serial = waiting.pop(port)
                services.add_instrument(model, serial, port=port)
        return services.open_transport(port)

    report = DemoReport(parallel=parallel, setup_seconds=setup_seconds)

    def finished(result: UnitResult) -> None:
        services.retire_instrument(result.job.port)
        unit = DemoUnit.from_result(result)
        report.units.append(unit)
        if on_unit is not None:
            on_unit(unit)

    env = services.bench_env(operator="demo", transport_opener=open_transport)
    started = time.monotonic()
    try:
        provision_many(env, jobs, workers=parallel, on_result=finished, options=options, stop=stop, keep_events=False)
    finally:
        report.seconds = time.monotonic() - started
        env.close()
    report.units.sort(key=lambda u: u.index)
    return report


__all__ = ["DEFAULT_PARALLEL", "DEFAULT_UNITS", "DEMO_OPTIONS", "DemoReport", "DemoUnit", "demo_serials", "run_demo"]
