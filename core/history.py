"""The History window's look-ups over the unit registry, without Qt: search units by serial,
CN, model, operator, date and state with paging; one unit's record, certificates and audit
trail; CSV exports; and the audit-chain check.

Read-only: nothing here changes the registry. Each call opens the registry, reads, and
closes it, so the GUI can run it on any worker thread.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from certbench.core.errors import CertbenchError, InputError
from certbench.core.registry import (
    AuditRecord,
    CertificateRecord,
    ChainReport,
    Registry,
    ResumePlan,
    UnitRecord,
    UnitState,
    open_registry,
)
from certbench.core.registry.audit import EXPORT_COLUMNS, format_time, utc
from certbench.core.registry.models import AuditEvent, Unit
from certbench.core.registry.states import IN_PROGRESS

# State filter values beyond the single states: groups a person asks for.
IN_PROGRESS_FILTER = "in-progress"
MAX_PAGE_SIZE = 500

UNIT_CSV_COLUMNS = (
    "id", "cn", "serial", "model", "gtin", "state", "failed_from", "last_error", "generation", "firmware",
    "operator", "workstation", "last_operator", "last_workstation", "created_at", "updated_at",
)
# The same columns, in the same order, as `certbench audit export --csv`.
AUDIT_CSV_COLUMNS = EXPORT_COLUMNS


@dataclass(frozen=True)
class UnitQuery:
    """Empty fields do not filter. Text fields match anywhere, ignoring case. `since`/`until`
    are local calendar days, both included: a unit matches when it was worked on in that
    span (created on or before `until`, last changed on or after `since`). `operator`
    matches whoever reserved, last touched, or did any step recorded for the unit."""

    serial: str = ""
    cn: str = ""
    model: str = ""
    operator: str = ""
    state: str = ""  # "" | a UnitState value | "in-progress"
    since: dt.date | None = None
    until: dt.date | None = None

    def check(self) -> None:
        if self.state and self.state != IN_PROGRESS_FILTER:
            try:
                UnitState(self.state)
            except ValueError:
                raise InputError(f"'{self.state}' is not a unit state.",
                                 "Choose a state from the list.") from None
        if self.since and self.until and self.since > self.until:
            raise InputError(f"The date range ends ({self.until}) before it starts ({self.since}).",
                             "Swap the two dates.")


@dataclass(frozen=True)
class UnitPage:
    units: list[UnitRecord]
    total: int  # units matching, over all pages
    page: int  # 0-based
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _local_midnight(day: dt.date) -> dt.datetime:
    return utc(dt.datetime.combine(day, dt.time()).astimezone())


def _like(column, text: str):
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped.lower()}%", escape="\\")


def _conditions(query: UnitQuery) -> list:
    conditions = []
    for column, text in ((Unit.serial, query.serial), (Unit.cn, query.cn), (Unit.model, query.model)):
        if text.strip():
            conditions.append(_like(column, text))
    if query.operator.strip():
        conditions.append(or_(
            _like(Unit.operator, query.operator),
            _like(Unit.last_operator, query.operator),
            exists().where(and_(AuditEvent.unit_id == Unit.id, _like(AuditEvent.actor, query.operator))),
        ))
    if query.state == IN_PROGRESS_FILTER:
        conditions.append(Unit.state.in_([s.value for s in IN_PROGRESS]))
    elif query.state:
        conditions.append(Unit.state == UnitState(query.state).value)
    if query.since:
        conditions.append(Unit.updated_at >= _local_midnight(query.since))
    if query.until:
        conditions.append(Unit.created_at < _local_midnight(query.until + dt.timedelta(days=1)))
    return conditions


def _record(unit: Unit) -> UnitRecord:
    return UnitRecord(
        id=unit.id, cn=unit.cn, serial=unit.serial, model=unit.model, gtin=unit.gtin,
        state=UnitState(unit.state), failed_from=UnitState(unit.failed_from) if unit.failed_from else None,
        last_error=unit.last_error, generation=unit.generation, firmware=unit.firmware,
        operator=unit.operator, workstation=unit.workstation, last_operator=unit.last_operator,
        last_workstation=unit.last_workstation, created_at=utc(unit.created_at), updated_at=utc(unit.updated_at),
    )


def search_units(registry_url: str | None, query: UnitQuery, *, page: int = 0, page_size: int = 50) -> UnitPage:
    """One page of the units matching `query`, most recently changed first."""
    query.check()
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InputError(f"A page holds 1 to {MAX_PAGE_SIZE} units, not {page_size}.")
    page = max(0, page)
    conditions = _conditions(query)
    registry = open_registry(registry_url)
    try:
        with Session(registry.engine) as session:
            total = session.execute(select(func.count()).select_from(Unit).where(*conditions)).scalar_one()
            rows = session.execute(
                select(Unit).where(*conditions).order_by(Unit.updated_at.desc(), Unit.id.desc())
                .limit(page_size).offset(page * page_size)
            ).scalars()
            units = [_record(u) for u in rows]
    finally:
        registry.close()
    return UnitPage(units, total, page, page_size)


def _iter_matching(registry, query: UnitQuery, batch: int = 1000) -> Iterable[UnitRecord]:
    conditions = _conditions(query)
    with Session(registry.engine) as session:
        rows = session.execute(
            select(Unit).where(*conditions).order_by(Unit.updated_at.desc(), Unit.id.desc())
            .execution_options(yield_per=batch)
        ).scalars()
        for unit in rows:
            yield _record(unit)


@dataclass(frozen=True)
class UnitTrail:
    unit: UnitRecord
    certificates: list[CertificateRecord]
    events: list[AuditRecord]
    plan: ResumePlan


def unit_trail(registry_url: str | None, unit_id: int) -> UnitTrail:
    """A unit's record, every certificate it has had, its audit events in chain order, and
    where it stands (what a re-provision or resume would do)."""
    registry = open_registry(registry_url)
    try:
        return UnitTrail(registry.get_unit(unit_id), registry.certificates(unit_id), registry.unit_events(unit_id),
                         registry.resume_info(unit_id))
    finally:
        registry.close()


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return format_time(value)
    return value


def _write_atomic(path: Path, write) -> int:
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as handle:
            count = write(handle)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CertbenchError(f"Could not write {path}: {exc.strerror or exc}.",
                             "Choose a folder you can write to.") from None
    return count


def _export_csv(registry_url: str | None, path: str | Path, columns: tuple[str, ...],
                records: Callable[[Registry], Iterable[UnitRecord | AuditRecord]]) -> int:
    """`records(registry)` as CSV (UTF-8, CRLF: opens in Excel), one row each in `columns`;
    written to a side file and moved into place, so a failed export leaves no half file."""

    def write(out: TextIO) -> int:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(columns)
        count = 0
        for record in records(registry):
            data = record.to_dict()
            writer.writerow([_cell(data[c]) for c in columns])
            count += 1
        return count

    registry = open_registry(registry_url)
    try:
        return _write_atomic(Path(path), write)
    finally:
        registry.close()


def export_units_csv(registry_url: str | None, query: UnitQuery, path: str | Path) -> int:
    """Every unit matching `query` (all pages) as CSV (UTF-8, opens in Excel); the count."""
    query.check()
    return _export_csv(registry_url, path, UNIT_CSV_COLUMNS, lambda registry: _iter_matching(registry, query))


def export_audit_csv(registry_url: str | None, path: str | Path, *, unit_id: int | None = None) -> int:
    """Audit events in chain order with their hashes (one unit's, or all), in the format of
    `certbench audit export --csv`; the count."""
    return _export_csv(registry_url, path, AUDIT_CSV_COLUMNS, lambda registry: registry.events(unit=unit_id))


def verify_audit(registry_url: str | None) -> ChainReport:
    """Walk the whole audit chain; the report names the first broken row, if any."""
    registry = open_registry(registry_url)
    try:
        return registry.verify()
    finally:
        registry.close()


__all__ = [
    "AUDIT_CSV_COLUMNS",
    "IN_PROGRESS_FILTER",
    "UNIT_CSV_COLUMNS",
    "UnitPage",
    "UnitQuery",
    "UnitTrail",
    "export_audit_csv",
    "export_units_csv",
    "search_units",
    "unit_trail",
    "verify_audit",
]
