"""`--fault`, `--retry-after` and `--latency` for `certbench emulate iotcentral|sectigo`:
faults set for one run of a standalone emulator, so an administrator (or a benchmark) can
watch Certbench ride out throttling, server errors and dropped connections over real sockets.

    certbench emulate iotcentral --fault 429:5 --retry-after 2 --fault drop@/verify$
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import click

BASE_KINDS = ("429", "500", "503", "drop", "drop-after")
_SPEC = re.compile(r"^(?P<kind>[a-z0-9-]+)(?::(?P<count>\d+|forever))?(?:@(?P<path>.+))?$")


@dataclass(frozen=True)
class FaultSpec:
    kind: str
    count: int  # -1 = every matching request
    path: str = ""

    def describe(self) -> str:
        times = "every request" if self.count < 0 else f"{self.count}x"
        return f"{self.kind} {times}" + (f" on paths matching {self.path}" if self.path else "")


def parse_fault(text: str, kinds: tuple[str, ...]) -> FaultSpec:
    match = _SPEC.match(text.strip())
    if not match or match["kind"] not in kinds:
        raise click.BadParameter(
            f"'{text}' is not a fault. Write KIND[:COUNT][@PATH-REGEX] with KIND one of {', '.join(kinds)} "
            "and COUNT a number or 'forever', e.g. 429:3 or 500@/verify$."
        )
    count = match["count"] or "1"
    path = match["path"] or ""
    try:
        re.compile(path)
    except re.error as exc:
        raise click.BadParameter(f"'{path}' in '{text}' is not a regular expression ({exc}).") from None
    parsed = -1 if count == "forever" else int(count)
    if parsed == 0:
        raise click.BadParameter(f"'{text}': a fault that hits 0 requests does nothing; leave it out.")
    return FaultSpec(match["kind"], parsed, path)


def fault_options(extra_kinds: tuple[str, ...] = (), extra_help: str = "") -> Callable:
    """The three options, for a command that then calls `apply_faults`."""
    kinds = BASE_KINDS + extra_kinds

    def convert(ctx, param, values):  # a click callback
        return [parse_fault(v, kinds) for v in values]

    def decorate(command: Callable) -> Callable:
        command = click.option(
            "--latency", type=click.FloatRange(0, 60), default=0.0, show_default=True,
            help="Seconds added to every answer.",
        )(command)
        command = click.option(
            "--retry-after", type=click.FloatRange(0, 3600), default=None,
            help="Retry-After (seconds) sent with injected 429/503 answers (default: none).",
        )(command)
        return click.option(
            "--fault", "faults", multiple=True, callback=convert, metavar="KIND[:COUNT][@PATH]",
            help=f"Inject a fault (repeatable). KIND: {', '.join(kinds)}{extra_help}; COUNT: how many "
                 "matching requests (default 1) or 'forever'; PATH: a regex on the request path.",
        )(command)

    return decorate


def apply_faults(app, faults: list[FaultSpec], retry_after: float | None, latency: float) -> list[str]:
    """Arm `app.faults`; returns one line per fault for the start-up banner."""
    for spec in faults:
        app.faults.add(spec.kind, spec.count, path=spec.path,
                       retry_after=retry_after if spec.kind in ("429", "503") else None)
    app.faults.latency = latency
    lines = [spec.describe() for spec in faults]
    if faults and retry_after is not None:
        lines.append(f"Retry-After {retry_after:g} s on injected 429/503")
    if latency:
        lines.append(f"{latency:g} s latency on every answer")
    return lines
