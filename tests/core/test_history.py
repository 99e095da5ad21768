"""History look-ups over a real (SQLite) registry: search with filters and paging, a unit's
trail, CSV exports and the audit-chain check."""

from __future__ import annotations

import csv
import datetime as dt

import pytest
from sqlalchemy import text

from certbench.core.errors import InputError
from certbench.core.history import (
    AUDIT_CSV_COLUMNS,
    IN_PROGRESS_FILTER,
    UnitQuery,
    export_audit_csv,
    export_units_csv,
    search_units,
    unit_trail,
    verify_audit,
)
from certbench.core.registry import Actor, UnitState, open_registry


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    alice, bob = Actor("alice", "BENCH-01"), Actor("bob", "BENCH-02")
    with open_registry(url) as registry:
        for n in range(1, 8):
            unit = registry.reserve(f"SN{n:04d}", "MX200" if n % 2 else "LX5", None, f"mx200-sn{n:04d}",
                                    actor=alice if n <= 4 else bob)
            if n == 3:
                registry.fail(unit, "instrument stopped answering", actor=bob)
            if n == 5:
                registry.transition(unit, UnitState.KEY_READY, actor=bob, key_origin="device")
        registry.audit("ca.verified", actor=alice, subject="ica-1", details={"thumbprint": "AB" * 20})
    return url


def test_search_filters_and_pages(url):
    everything = search_units(url, UnitQuery())
    assert everything.total == 7 and [u.serial for u in everything.units][:3] == ["SN0007", "SN0006", "SN0005"]
    assert [u.serial for u in search_units(url, UnitQuery(serial="sn0004")).units] == ["SN0004"]
    assert search_units(url, UnitQuery(cn="SN000")).total == 7
    assert {u.model for u in search_units(url, UnitQuery(model="lx")).units} == {"LX5"}
    assert [u.serial for u in search_units(url, UnitQuery(state="failed")).units] == ["SN0003"]
    assert search_units(url, UnitQuery(state=IN_PROGRESS_FILTER)).total == 6
    # bob reserved 5..7 and touched 3 (failed it).
    assert {u.serial for u in search_units(url, UnitQuery(operator="BOB")).units} == {"SN0003", "SN0005", "SN0006", "SN0007"}
    today = dt.date.today()
    assert search_units(url, UnitQuery(since=today, until=today)).total == 7
    assert search_units(url, UnitQuery(until=today - dt.timedelta(days=1))).total == 0
    assert search_units(url, UnitQuery(serial="%")).total == 0  # wildcards are literal
    first, last = search_units(url, UnitQuery(), page=0, page_size=3), search_units(url, UnitQuery(), page=2, page_size=3)
    assert (first.pages, len(first.units), len(last.units)) == (3, 3, 1)
    assert not {u.id for u in first.units} & {u.id for u in last.units}


def test_bad_queries_are_refused(url):
    with pytest.raises(InputError, match="not a unit state"):
        search_units(url, UnitQuery(state="shipped"))
    with pytest.raises(InputError, match="ends"):
        search_units(url, UnitQuery(since=dt.date(2025, 2, 1), until=dt.date(2025, 1, 1)))


def test_trail_and_exports(url, tmp_path):
    unit = search_units(url, UnitQuery(serial="SN0003")).units[0]
    trail = unit_trail(url, unit.id)
    assert [e.event for e in trail.events][-1].endswith("failed") and trail.plan.retry_from == UnitState.CN_RESERVED
    out = tmp_path / "units.csv"
    assert export_units_csv(url, UnitQuery(model="MX200"), out) == 4
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert sorted(r["serial"] for r in rows) == ["SN0001", "SN0003", "SN0005", "SN0007"]
    assert next(r for r in rows if r["serial"] == "SN0003")["last_error"] == "instrument stopped answering"
    audit = tmp_path / "audit.csv"
    count = export_audit_csv(url, audit)
    rows = list(csv.reader(audit.open(encoding="utf-8", newline="")))
    assert tuple(rows[0]) == AUDIT_CSV_COLUMNS and len(rows) == count + 1
    assert [int(r[0]) for r in rows[1:]] == list(range(1, count + 1))


def test_verify_audit_reports_first_broken_row(url):
    report = verify_audit(url)
    assert report.ok and report.events >= 10
    with open_registry(url) as registry, registry.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_update")
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 4"))
    report = verify_audit(url)
    assert not report.ok and report.broken.seq == 4 and report.broken.row["actor"] == "mallory"
