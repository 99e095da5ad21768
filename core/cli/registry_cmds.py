"""`certbench units ...` and `certbench audit ...`: look at the unit registry and check or
export its tamper-evident audit trail.

The registry is found from `--db URL`, else the CERTBENCH_REGISTRY_URL environment variable,
else `[registry] url` in the settings, else the local SQLite file in the data folder.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from certbench.core.cli.output import console, json_option, print_json
from certbench.core.errors import CertbenchError, ConfigError, InputError
from certbench.core.registry import ChainReport, Registry, UnitState, open_registry, verify_chain
from certbench.core.registry import db as registry_db
from certbench.core.registry.audit import EXPORT_COLUMNS, format_time

EXPORT_FORMAT = "certbench-audit/1"

db_option = click.option(
    "--db", "db_url", envvar=registry_db.URL_ENV, metavar="URL",
    help="Registry database URL (default: [registry] url in the settings, else the local SQLite file). "
         f"Also read from {registry_db.URL_ENV}.",
)


def _settings_url() -> str | None:
    from certbench.core.config import load_settings

    return load_settings().registry.url or None


@contextmanager
def _registry(db_url: str | None):
    """Open an existing registry for reading; never creates or upgrades one."""
    url = registry_db.resolve_url(db_url or _settings_url())
    if url.get_backend_name() == "sqlite" and not Path(url.database).is_file():
        raise InputError(
            f"There is no registry database at {url.database} yet.",
            "Provision a unit on this bench first, or give the shared registry with --db URL.",
        )
    registry = open_registry(url.render_as_string(hide_password=False), migrate=False)
    try:
        try:
            current = registry_db.current_revisions(registry.engine)
        except DBAPIError as exc:
            raise registry_db.unavailable(url, exc) from None
        if not current:
            raise InputError(
                f"The database at {registry.location} holds no Certbench registry.",
                "Check the URL; a bench creates the registry the first time it provisions a unit.",
            )
        if current != registry_db.head_revisions():
            raise ConfigError(
                f"The registry at {registry.location} has schema {', '.join(sorted(current))}, "
                "which this Certbench does not read.",
                "Start the Certbench application once to upgrade it, or use the Certbench version the other benches use.",
            )
        yield registry
    finally:
        registry.close()


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


# -- units ---------------------------------------------------------------------------------


@click.group()
def units() -> None:
    """Units in the registry: their state, certificates and history."""


@units.command("list")
@click.option("--state", type=click.Choice([s.value for s in UnitState]), help="Only units in this state.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True, help="At most this many.")
@db_option
@json_option
def units_list(state: str | None, limit: int, db_url: str | None, as_json: bool) -> None:
    """List units, most recently changed first."""
    with _registry(db_url) as registry:
        rows = registry.list_units(state, limit=limit)
        total = registry.count_units(state)
    if as_json:
        print_json({"total": total, "units": [unit.to_dict() for unit in rows]})
        return
    if not rows:
        console.print("No units" + (f" in state {state}." if state else " in the registry yet."))
        return
    table = Table(title=f"Units ({len(rows)} of {total})", show_lines=False)
    for column in ("CN", "State", "Serial", "Model", "Bench", "Operator", "Changed"):
        # Names are copied from here into other commands: never wrap them.
        table.add_column(column, no_wrap=column in ("CN", "State", "Serial"))
    for unit in rows:
        table.add_row(*(escape(text) for text in (
            unit.cn or "-", unit.state.value, unit.serial, unit.model, unit.last_workstation,
            unit.last_operator, _when(unit.updated_at))))
    console.print(table)


@units.command("show")
@click.argument("cn")
@db_option
@json_option
def units_show(cn: str, db_url: str | None, as_json: bool) -> None:
    """Show one unit (by CN): record, certificates, resume point and audit events."""
    cn = cn.strip().casefold()  # CNs are stored lowercase; a typed or scanned one may not be
    with _registry(db_url) as registry:
        unit = registry.get_unit(cn)
        certificates = registry.certificates(unit)
        plan = registry.resume_info(unit)
        events = registry.unit_events(unit)
    if as_json:
        print_json({
            "unit": unit.to_dict(), "certificates": [c.to_dict() for c in certificates],
            "resume": {"next_step": plan.next_step, "retry_from": plan.retry_from, "message": plan.message},
            "events": [_event_dict(e.to_dict()) for e in events],
        })
        return
    e = escape
    console.print(f"[bold]{e(unit.cn)}[/]  unit #{unit.id}  state [bold]{unit.state.value}[/]  generation {unit.generation}")
    console.print(f"  serial {e(unit.serial)}  model {e(unit.model)}  GTIN {e(unit.gtin or '-')}  "
                  f"firmware {e(unit.firmware or '-')}")
    console.print(f"  reserved by {e(unit.operator)} on {e(unit.workstation)} at {_when(unit.created_at)}")
    console.print(f"  last change by {e(unit.last_operator)} on {e(unit.last_workstation)} at {_when(unit.updated_at)}")
    if unit.last_error:
        console.print(f"  [red]last error:[/] {e(unit.last_error)}")
    console.print(f"  next: {e(plan.message)}")
    for cert in certificates:
        console.print(f"  certificate gen {cert.generation}: [bold]{cert.status}[/] via {e(cert.intermediate)}, "
                      f"order {e(cert.order_id or '-')}" + (f" ({e(cert.end_reason)})" if cert.end_reason else ""))
        if cert.sha256:
            console.print(f"    serial      {cert.serial_number}", soft_wrap=True)
            console.print(f"    thumbprint  {(cert.sha1 or '').upper()}  (SHA-1, as IoT Central shows it)", soft_wrap=True)
            console.print(f"    SHA-256     {cert.sha256}", soft_wrap=True)
            console.print(f"    valid       {_when(cert.not_before)} to {_when(cert.not_after)}")
    table = Table(title="History")
    for column in ("#", "When", "Event", "Outcome", "Who", "Bench", "Error"):
        table.add_column(column, no_wrap=column in ("#", "Event"))
    for event in events:
        table.add_row(str(event.seq), _when(event.occurred_at), e(event.event), event.outcome, e(event.actor),
                      e(event.workstation), e(event.error or ""))
    console.print(table)


# -- audit ---------------------------------------------------------------------------------


@click.group()
def audit() -> None:
    """The tamper-evident audit trail: verify its hash chain, export it."""


def _parse_anchor(_ctx: Any, _param: Any, values: tuple[str, ...]) -> dict[int, str]:
    anchors = {}
    for value in values:
        seq, _, digest = value.partition(":")
        if not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest.lower()):
            raise click.BadParameter(f"'{value}' is not SEQ:HASH (a row number and 64 hex digits).")
        anchors[int(seq)] = digest.lower()
    return anchors


def _report(report: ChainReport, as_json: bool, source: str) -> int:
    if as_json:
        print_json({"source": source, **report.to_dict()})
    elif report.ok:
        console.print(f"[green]Audit chain intact[/]: {report.events} events in {source}.")
        console.print(f"Head: row {report.head_seq}, hash {report.head_hash}", soft_wrap=True)
        console.print("Record the head line outside the database to detect a rewrite later (--anchor).")
    else:
        broken = report.broken
        console.print(f"[bold red]Audit chain BROKEN[/] at row {broken.seq}: {broken.reason}.")
        console.print(f"The {report.events} rows before it verify; the last good row is {report.head_seq}.")
        console.print("Row as stored:")
        console.print_json(json.dumps(broken.row, default=str))
        console.print("[yellow]What to do:[/] keep this output, do not provision further on this registry, "
                      "and tell the quality/registry administrator.")
    return 0 if report.ok else 1


@audit.command("verify")
@click.option("--anchor", "anchors", multiple=True, callback=_parse_anchor, metavar="SEQ:HASH",
              help="A head line recorded earlier; the chain must still hold it (repeatable).")
@click.option("--export", "export_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Verify a JSON export file instead of the database.")
@db_option
@json_option
def audit_verify(anchors: dict[int, str], export_file: Path | None, db_url: str | None, as_json: bool) -> int:
    """Walk the hash chain and report the first broken row (exit 1), or confirm it is intact."""
    if export_file is not None:
        events = _read_export(export_file)
        if events:
            first_seq, first_prev = events[0]["seq"], events[0]["prev_hash"]
        else:
            first_seq, first_prev = 1, "0" * 64
        report = verify_chain(events, None, first_seq=first_seq, first_prev=first_prev, anchors=anchors)
        return _report(report, as_json, str(export_file))
    with _registry(db_url) as registry:
        report = registry.verify(anchors=anchors)
        return _report(report, as_json, registry.location)


def _event_dict(fields: dict[str, Any]) -> dict[str, Any]:
    return {**fields, "occurred_at": format_time(fields["occurred_at"])}


def _read_export(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != EXPORT_FORMAT:
            raise ValueError("format")
        events = data["events"]
        for event in events:
            event["occurred_at"] = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
            missing = set(EXPORT_COLUMNS) - set(event)
            if missing:
                raise ValueError(", ".join(sorted(missing)))
        return events
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(
            f"{path} is not a Certbench audit export ({type(exc).__name__}: {exc}).",
            "Give a file written by 'certbench audit export --json'.",
        ) from None


def _parse_since(_ctx: Any, _param: Any, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date (YYYY-MM-DD) or date and time (YYYY-MM-DDTHH:MM).") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _write_json(registry: Registry, since: datetime | None, out: TextIO) -> int:
    # Written row by row so millions of events need no memory; still one JSON document.
    header = {
        "format": EXPORT_FORMAT, "exported_at": format_time(datetime.now(UTC)),
        "registry": registry.location, "since": format_time(since) if since else None,
    }
    out.write(json.dumps(header, ensure_ascii=False)[:-1] + ', "events": [\n')
    count = 0
    for event in registry.events(since=since):
        out.write(("," if count else "") + json.dumps(_event_dict(event.to_dict()), ensure_ascii=False) + "\n")
        count += 1
    out.write("]}\n")
    return count


def _write_csv(registry: Registry, since: datetime | None, out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for event in registry.events(since=since):
        row = _event_dict(event.to_dict())
        writer.writerow(["" if row[c] is None else row[c] for c in EXPORT_COLUMNS])
        count += 1
    return count


@audit.command("export")
@click.option("--csv", "fmt", flag_value="csv", help="Comma-separated values (opens in Excel).")
@click.option("--json", "fmt", flag_value="json", help="JSON, verifiable later with 'audit verify --export'.")
@click.option("--since", callback=_parse_since, metavar="DATE",
              help="Only events at or after this UTC date/time (YYYY-MM-DD or YYYY-MM-DDTHH:MM).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file (default: standard output).")
@db_option
def audit_export(fmt: str | None, since: datetime | None, output: Path | None, db_url: str | None) -> None:
    """Export audit events in chain order, with their hashes."""
    if fmt is None:
        raise click.UsageError("Choose a format: --csv or --json.")
    writer = _write_csv if fmt == "csv" else _write_json
    with _registry(db_url) as registry:
        if output is None:
            stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="", write_through=True) \
                if hasattr(sys.stdout, "buffer") else sys.stdout
            writer(registry, since, stream)
            stream.flush()
            if stream is not sys.stdout:
                stream.detach()
            return
        tmp = output.with_name(output.name + ".part")
        try:
            with tmp.open("w", encoding="utf-8", newline="") as handle:
                count = writer(registry, since, handle)
            tmp.replace(output)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise CertbenchError(f"Could not write {output}: {exc.strerror}.", "Choose a folder you can write to.") from None
    click.echo(f"Exported {count} events to {output}.", err=True)
