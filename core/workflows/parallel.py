"""Several instruments at once: one workstation drives N instruments on N ports, each unit's
workflow on its own thread, all sharing one `BenchEnv` (registry, issuer, IoT Central
client, workstation keys: each safe to share between threads, see docs/unit-provisioning.md).

    jobs = [UnitJob("MX2A0001", "COM7", model="mx200"), UnitJob("MX2A0002", "COM8", model="mx200")]
    results = provision_many(env, jobs, workers=4, progress=show, on_result=report)

Rules:
- a port is driven by one thread at a time: jobs on the same port (a technician swapping
  instruments on one cable) run one after the other, in the order given;
- every progress event is handed on tagged with its port and job (`PortEvent`);
- one unit's failure never stops the others: it is recorded in its `UnitResult` (the unit
  itself is left `failed` by the workflow, ready for `resume_unit`), and the next job goes on;
- `stop` (a threading.Event, e.g. set on Ctrl+C) lets running units finish and starts no new ones.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from certbench.core.bench import BenchEnv
from certbench.core.errors import CertbenchError
from certbench.core.workflows.progress import ProgressEvent
from certbench.core.workflows.unit_provisioning import UnitOutcome, provision_unit, resume_unit
from certbench.core.workflows.unit_steps import ProvisionOptions


@dataclass(frozen=True)
class UnitJob:
    """One unit to provision: its scan (or, with `resume_cn`, a unit to resume) on `port`."""

    scan: Any
    port: str
    model: str | None = None
    resume_cn: str | None = None
    label: str = ""  # how to name the job in output; default: the scan text or the CN

    @property
    def name(self) -> str:
        return self.label or self.resume_cn or str(getattr(self.scan, "raw", None) or self.scan)


@dataclass(frozen=True)
class PortEvent:
    """A progress event of the unit running on `port` (job `index` of the run)."""

    port: str
    index: int
    job: str
    event: ProgressEvent

    def to_dict(self) -> dict[str, Any]:
        return {"port": self.port, "index": self.index, "job": self.job, **self.event.to_dict()}


@dataclass(frozen=True)
class UnitResult:
    index: int
    job: UnitJob
    outcome: UnitOutcome | None
    error: BaseException | None
    seconds: float
    thread: str = field(default="", repr=False)

    @property
    def ok(self) -> bool:
        return self.outcome is not None and self.error is None

    @property
    def cn(self) -> str | None:
        if self.outcome is not None:
            return self.outcome.cn
        return getattr(self.error, "cn", None) or self.job.resume_cn

    @property
    def reason(self) -> str | None:
        if self.error is None:
            return None
        if isinstance(self.error, CertbenchError):
            return self.error.message
        return f"{type(self.error).__name__}: {self.error}"

    @property
    def hint(self) -> str | None:
        return self.error.hint if isinstance(self.error, CertbenchError) else None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"index": self.index, "port": self.job.port, "job": self.job.name, "ok": self.ok,
                                "seconds": round(self.seconds, 3)}
        if self.outcome is not None:
            data.update(self.outcome.to_dict())
        if self.error is not None:
            data.update(error=type(self.error).__name__, reason=self.reason, hint=self.hint)
        return data


PortProgress = Callable[[PortEvent], None]
ResultCallback = Callable[[UnitResult], None]


def provision_many(
    env: BenchEnv,
    jobs: Sequence[UnitJob],
    *,
    workers: int | None = None,
    progress: PortProgress | None = None,
    on_result: ResultCallback | None = None,
    options: ProvisionOptions | None = None,
    stop: threading.Event | None = None,
    keep_events: bool = True,
) -> list[UnitResult]:
    """Run `jobs` with at most `workers` units at once (default: one per distinct port) and
    return their results in the order of `jobs` (jobs never started because of `stop` are
    left out). Callbacks are called from the worker threads, one at a time. `keep_events=False`
    drops each outcome's event list once the unit is reported (long runs, e.g. demo mode)."""
    queues: OrderedDict[str, list[tuple[int, UnitJob]]] = OrderedDict()
    for index, job in enumerate(jobs):
        queues.setdefault(job.port, []).append((index, job))
    if not queues:
        return []
    count = max(1, min(workers or len(queues), len(queues)))
    pending = list(queues.values())
    pending_lock = threading.Lock()
    # Callbacks one at a time: printers and GUI adapters need not be thread-safe themselves.
    callback_lock = threading.Lock()
    results: dict[int, UnitResult] = {}
    stop = stop or threading.Event()

    def next_port() -> list[tuple[int, UnitJob]] | None:
        with pending_lock:
            return pending.pop(0) if pending and not stop.is_set() else None

    def run_one(index: int, job: UnitJob) -> UnitResult:
        def tag(event: ProgressEvent) -> None:
            if progress is not None:
                with callback_lock:
                    progress(PortEvent(job.port, index, job.name, event))

        started = time.monotonic()
        try:
            if job.resume_cn:
                outcome = resume_unit(env, job.resume_cn, job.port, progress=tag, options=options)
            else:
                outcome = provision_unit(env, job.scan, job.port, model=job.model, progress=tag, options=options)
            return UnitResult(index, job, outcome, None, time.monotonic() - started, threading.current_thread().name)
        except Exception as exc:  # noqa: BLE001 - one unit's failure is its own; the others go on
            return UnitResult(index, job, None, exc, time.monotonic() - started, threading.current_thread().name)

    def worker() -> None:
        while (port_jobs := next_port()) is not None:
            for index, job in port_jobs:
                if stop.is_set():
                    break
                result = run_one(index, job)
                if on_result is not None:
                    with callback_lock:
                        try:
                            on_result(result)
                        except Exception:  # noqa: BLE001 - a failing printer must not orphan the port's units
                            pass
                if not keep_events:
                    if result.outcome is not None:
                        result = replace(result, outcome=replace(result.outcome, events=()))
                    if result.error is not None:
                        result.error.__traceback__ = None  # its frames would keep the unit's objects alive
                results[index] = result

    threads = [threading.Thread(target=worker, name=f"certbench-unit-{n + 1}", daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)  # short joins keep Ctrl+C deliverable to the main thread
    except BaseException:
        stop.set()  # running units finish (their instruments are never left half-written); no new ones
        for thread in threads:
            thread.join()
        raise
    return [results[i] for i in sorted(results)]


__all__ = ["PortEvent", "PortProgress", "UnitJob", "UnitResult", "provision_many"]
