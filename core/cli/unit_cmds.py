"""`certbench unit provision|resume|reprovision|rollback|decommission`: the technician's
job on the command line, over the same workflows the GUI runs (docs/unit-provisioning.md)."""

from __future__ import annotations

import queue
import sys

import click

from certbench.core.cli.output import console, err_console, json_option, print_json
from certbench.core.errors import CertbenchError, InputError

__all__ = ["unit"]

_port_option = click.option(
    "--port", "-p", default=None,
    help="The instrument's port: COM3, /dev/ttyUSB0, or a pyserial URL such as socket://127.0.0.1:5555 (simulator).",
)
_baud_option = click.option(
    "--baud", type=click.IntRange(min=1), default=None,
    help="Instrument line speed (default: [bench] instrument_baud in the settings, normally 115200).",
)
_operator_option = click.option("--operator", default=None, help="Who does this (default: the signed-in OS user).")
_db_option = click.option("--db", "db_url", default=None, help="Registry URL (default: [registry] url, else the local file).")


def _env(operator: str | None, db_url: str | None, baud: int | None = None):
    from certbench.core.bench import BenchEnv
    from certbench.core.config import load_settings

    settings = load_settings()
    if db_url:
        settings.registry.url = db_url
    return BenchEnv.from_settings(settings, operator=operator, baud=baud)


def _printer(as_json: bool):
    def show(event) -> None:
        if as_json or event.detail.get("transfer"):
            return
        colour = {"started": "dim", "done": "green", "failed": "red", "skipped": "yellow"}[event.status]
        if event.status == "started" and event.detail.get("pending"):
            colour = "yellow"
        console.print(f"[{colour}]{event.status:>7}[/] {event.step:<12} {event.message}")

    return show


class _Tracker:
    """Prints progress and remembers the unit's CN (from the scan step), so a failure can say
    how to carry on."""

    def __init__(self, as_json: bool) -> None:
        self._show = _printer(as_json)
        self.cn: str | None = None

    def __call__(self, event) -> None:
        if event.step == "scan" and event.status == "done":
            self.cn = event.detail.get("cn")
        self._show(event)


def _add_resume_hint(exc: CertbenchError, env, cn: str | None, port: str) -> None:
    """A unit left `failed` is resumable: say so, unless the error already says what to do."""
    if not cn or "unit resume" in (exc.hint or ""):
        return
    from certbench.core.registry import UnitState

    try:
        unit = env.registry.find_unit(cn)
    except Exception:  # noqa: BLE001 - the registry may be what failed; the error stands as it is
        return
    if unit is None or unit.state != UnitState.FAILED:
        return
    where = f" at '{unit.failed_from.value}'" if unit.failed_from else ""
    carry_on = (f"{cn} is saved as failed{where}: once that is put right, carry on from there with "
                f"`certbench unit resume {cn} --port {port}` (or scan its label again).")
    exc.hint = f"{exc.hint} {carry_on}" if exc.hint else carry_on


def _options(replace_lost_key: bool = False, no_registration: bool = False):
    from certbench.core.workflows.unit_steps import ProvisionOptions

    return ProvisionOptions(replace_lost_key=replace_lost_key, check_registration=False if no_registration else None)


def _report(outcome, as_json: bool) -> None:
    if as_json:
        print_json(outcome.to_dict())
        return
    console.print(f"[bold green]{outcome.cn}[/]: {outcome.state} (generation {outcome.generation}, "
                  f"key made on the {outcome.key_origin or '?'}, order {outcome.order_id or '-'}"
                  f"{', resumed' if outcome.resumed else ''}).")
    for note in outcome.notes:
        console.print(f"  [yellow]Note:[/] {note}")


@click.group()
def unit() -> None:
    """Provision, resume, re-provision and decommission units (instruments)."""


@unit.command("provision")
@_port_option
@click.option("--scan", "scans", multiple=True, help="The scanned label (repeat for a two-part HIBC label). "
              "Without --scan or --scanner, scans are read from standard input, one per line.")
@click.option("--scanner", default=None, help="Read scans from a serial barcode scanner on this port.")
@click.option("--model", default=None, help="The product model, for a plain serial-number label.")
@_baud_option
@click.option("--no-registration", is_flag=True, help="Skip the DPS registration check for this run.")
@_operator_option
@_db_option
@json_option
def provision(port, scans, scanner, model, baud, no_registration, operator, db_url, as_json) -> None:
    """Provision the unit on --port whose label is scanned. With several scans from standard
    input or a scanner, units are provisioned one after another on the same port (swap the
    instrument between scans); a failure is reported and the next scan is taken."""
    from certbench.core.workflows.unit_provisioning import provision_unit

    if not port:
        raise InputError("No instrument port was given.", "Pass --port (certbench instrument ports lists them).")
    env = _env(operator, db_url, baud)
    failures = 0
    try:
        for text in _scan_texts(scans, scanner, env.settings):
            tracker = _Tracker(as_json)
            try:
                outcome = provision_unit(env, text, port, model=model, progress=tracker,
                                         options=_options(no_registration=no_registration))
                _report(outcome, as_json)
            except CertbenchError as exc:
                _add_resume_hint(exc, env, tracker.cn, port)
                if scans:
                    raise
                failures += 1
                err_console.print(f"[bold red]Error:[/] {exc.message}")
                if exc.hint:
                    err_console.print(f"[yellow]What to do:[/] {exc.hint}")
    finally:
        env.close()
    if failures:
        raise SystemExit(1)


def _scan_texts(scans, scanner_port, settings):
    """The scans to work on: --scan values (one unit, its label parts joined), else lines
    from a serial scanner or standard input, each assembled into a unit's label."""
    from certbench.core.naming.scan import ScanAssembler

    if scans:
        if len(scans) == 1:
            yield scans[0]
        else:
            from certbench.core.naming.scan import interpret_scans

            yield interpret_scans(list(scans), settings)
        return
    assembler = ScanAssembler(settings)
    for line in _lines(scanner_port, settings):
        if not line.strip():
            continue
        try:
            result = assembler.feed(line)
        except CertbenchError as exc:
            assembler.reset()
            err_console.print(f"[bold red]Scan refused:[/] {exc.message}")
            if exc.hint:
                err_console.print(f"[yellow]What to do:[/] {exc.hint}")
            continue
        if result is not None:
            yield result
        elif assembler.waiting_for():
            err_console.print(f"[dim]Waiting for {assembler.waiting_for()}.[/]")


def _lines(scanner_port, settings):
    if scanner_port is None:
        if sys.stdin.isatty():
            err_console.print("Scan a label (Ctrl+D / Ctrl+Z to finish).")
        for line in sys.stdin:
            yield line.rstrip("\r\n")
        return
    from certbench.core.naming.scanner import SerialScanner

    lines: queue.Queue = queue.Queue()
    reader = SerialScanner(scanner_port, lambda event: lines.put(event.text), on_error=lines.put,
                           prefix=settings.bench.scanner_prefix, suffix=settings.bench.scanner_suffix)
    err_console.print(f"Waiting for scans on {scanner_port} (Ctrl+C to stop).")
    with reader:
        while True:
            item = lines.get()
            if isinstance(item, BaseException):
                raise item
            yield item


@unit.command("resume")
@click.argument("cn")
@_port_option
@click.option("--replace-lost-key", is_flag=True,
              help="The key the unit's certificate was ordered for is lost: revoke that certificate and make a new "
                   "key and certificate (audited).")
@_baud_option
@click.option("--no-registration", is_flag=True, help="Skip the DPS registration check for this run.")
@_operator_option
@_db_option
@json_option
def resume(cn, port, replace_lost_key, baud, no_registration, operator, db_url, as_json) -> None:
    """Continue an interrupted or failed unit from where it stopped (never orders twice)."""
    from certbench.core.workflows.unit_provisioning import resume_unit

    if not port:
        raise InputError("No instrument port was given.", "Connect the unit and pass --port.")
    with _env(operator, db_url, baud) as env:
        try:
            outcome = resume_unit(env, cn, port, progress=_printer(as_json),
                                  options=_options(replace_lost_key, no_registration))
        except CertbenchError as exc:
            _add_resume_hint(exc, env, cn, port)
            raise
        _report(outcome, as_json)


@unit.command("reprovision")
@click.argument("cn")
@click.option("--reason", required=True, help="Why (board swap, renewal...): kept in the audit trail.")
@_port_option
@_baud_option
@_operator_option
@_db_option
@json_option
def reprovision(cn, reason, port, baud, operator, db_url, as_json) -> None:
    """New identity for a provisioned unit: the old certificate is revoked and superseded;
    with --port the new one is provisioned right away (else resume the unit later)."""
    from certbench.core.workflows.decommission import reprovision_unit

    with _env(operator, db_url, baud) as env:
        outcome = reprovision_unit(env, cn, reason, port=port, progress=_printer(as_json), options=_options())
        _report(outcome, as_json)


@unit.command("rollback")
@click.argument("cn")
@click.option("--reason", required=True, help="Why the unit is abandoned: kept in the audit trail.")
@_port_option
@_operator_option
@_db_option
@json_option
def rollback(cn, reason, port, operator, db_url, as_json) -> None:
    """Abandon an unfinished unit: ABORT on the instrument, order written off, an issued
    certificate revoked."""
    from certbench.core.workflows.unit_recovery import roll_back_unit

    with _env(operator, db_url) as env:
        state = roll_back_unit(env, cn, reason, port=port, progress=_printer(as_json))
    print_json({"cn": cn, "state": state}) if as_json else console.print(f"[bold]{cn}[/]: {state}.")


@unit.command("decommission")
@click.argument("cn")
@click.option("--reason", required=True, help="Why (returned, scrapped...): kept in the audit trail.")
@_port_option
@click.option("--disable", "device_action", flag_value="disable",
              help="Disable the device in IoT Central instead of deleting it.")
@click.option("--keep-device", "device_action", flag_value="keep", help="Leave the IoT Central device as it is.")
@_operator_option
@_db_option
@json_option
def decommission(cn, reason, port, device_action, operator, db_url, as_json) -> None:
    """Withdraw a unit: revoke its certificate, delete (or disable) its IoT Central device,
    and WIPE the instrument when it is connected (--port)."""
    from certbench.core.workflows.decommission import decommission_unit

    with _env(operator, db_url) as env:
        summary = decommission_unit(env, cn, reason, port=port, device_action=device_action or "delete",
                                    progress=_printer(as_json))
    if as_json:
        print_json(summary)
    else:
        console.print(f"[bold]{cn}[/]: {summary['state']}; IoT Central device {summary['iotcentral']}; "
                      f"instrument {'wiped' if summary['wiped'] else 'not wiped (not connected)'}.")
