"""Progress events every workflow emits, one per step and status, so the GUI can show a
checklist and the CLI a log without either knowing the workflow's insides. And the shape
of the audit hook workflows call (wired to the registry's audit trail by the caller)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["started", "done", "failed", "skipped"]
STATUSES: tuple[str, ...] = ("started", "done", "failed", "skipped")

log = logging.getLogger("certbench.workflows")


@dataclass(frozen=True)
class ProgressEvent:
    step: str  # a stable machine name, e.g. "upload"
    status: Status
    message: str  # one sentence for a person
    detail: dict[str, Any] = field(default_factory=dict)  # JSON-friendly; never secrets
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "status": self.status, "message": self.message, "detail": dict(self.detail),
                "at": self.at.isoformat()}


ProgressCallback = Callable[[ProgressEvent], None]
# audit(event name, outcome, details): details are JSON-friendly and hold no secret.
AuditHook = Callable[[str, str, dict[str, Any]], None]


class ProgressReporter:
    """Emits events to an optional callback (and the log), keeping them for the caller."""

    def __init__(self, callback: ProgressCallback | None = None) -> None:
        self._callback = callback
        self.events: list[ProgressEvent] = []

    def emit(self, step: str, status: Status, message: str, **detail: Any) -> ProgressEvent:
        if status not in STATUSES:
            raise ValueError(f"unknown progress status {status!r}")
        event = ProgressEvent(step, status, message, detail)
        self.events.append(event)
        log.info("[%s] %s: %s", step, status, message)
        if self._callback is not None:
            self._callback(event)
        return event

    @contextmanager
    def step(self, step: str, message: str, **detail: Any) -> Iterator[dict[str, Any]]:
        """`started` now; `done` when the block ends (with what it put in the yielded dict as
        detail and an optional "message" key), `failed` with the error's text if it raises."""
        self.emit(step, "started", message, **detail)
        outcome: dict[str, Any] = {}
        try:
            yield outcome
        except Exception as exc:
            text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            self.emit(step, "failed", text, **detail, error=type(exc).__name__)
            raise
        done_message = outcome.pop("message", message)
        self.emit(step, "done", done_message, **{**detail, **outcome})

    def skip(self, step: str, message: str, **detail: Any) -> ProgressEvent:
        return self.emit(step, "skipped", message, **detail)
