"""The audit trail's hash chain: every kind of tampering (edit, delete, reorder, truncate,
rewrite) is detected and the first broken row is reported; the format is stable and
documented; exports verify on their own."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from registry_helpers import drive_to
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from certbench.core.registry import Actor, UnitState, verify_chain
from certbench.core.registry.audit import GENESIS, canonical_bytes, event_hash

S = UnitState


def _fill(registry, actor, tiny_ca, units=3):
    for _ in range(units):
        drive_to(registry, S.DONE, actor, tiny_ca)
    registry.audit("ca.verified", actor=actor, subject="ica-site-a", details={"thumbprint": "ab" * 20})
    report = registry.verify()
    assert report.ok and report.events == report.head_seq >= 25
    return report


def _tamper(registry, *statements, params=None):
    """What someone with write access to the database could do: switch the append-only
    triggers off and change rows directly."""
    with registry.engine.begin() as conn:
        if registry.backend == "sqlite":
            for name in ("audit_events_no_update", "audit_events_no_delete"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        else:
            conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
        for statement in statements:
            conn.execute(text(statement), params or {})


def test_triggers_refuse_update_and_delete(registry, actor):
    registry.audit("settings.changed", actor=actor, details={"key": "bench.name"})
    for statement in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            with registry.engine.begin() as conn:
                conn.execute(text(statement))
    assert registry.verify().ok


def test_edited_row_is_reported(registry, actor, tiny_ca):
    _fill(registry, actor, tiny_ca)
    _tamper(registry, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 7")
    report = registry.verify()
    assert not report.ok
    assert report.broken.seq == 7 and "edited" in report.broken.reason
    assert report.broken.row["actor"] == "mallory"
    assert report.events == 6 and report.head_seq == 6


def test_edited_details_with_recomputed_hash_breaks_the_next_link(registry, actor, tiny_ca):
    _fill(registry, actor, tiny_ca)
    row = next(e for e in registry.events() if e.seq == 3).to_dict()
    forged = dict(row, details=row["details"].replace("device", "host"))
    assert forged["details"] != row["details"]
    forged["hash"] = event_hash(forged)
    _tamper(registry, "UPDATE audit_events SET details = :d, hash = :h WHERE seq = 3",
            params={"d": forged["details"], "h": forged["hash"]})
    report = registry.verify()
    assert report.broken.seq == 4 and "previous-hash" in report.broken.reason


def test_deleted_row_is_reported(registry, actor, tiny_ca):
    _fill(registry, actor, tiny_ca)
    _tamper(registry, "DELETE FROM audit_events WHERE seq = 12")
    report = registry.verify()
    assert report.broken.seq == 13 and "row 12 is missing" in report.broken.reason


def test_reordered_rows_are_reported(registry, actor, tiny_ca):
    _fill(registry, actor, tiny_ca)
    _tamper(
        registry,
        "UPDATE audit_events SET seq = -1 WHERE seq = 5",
        "UPDATE audit_events SET seq = 5 WHERE seq = 6",
        "UPDATE audit_events SET seq = 6 WHERE seq = -1",
    )
    report = registry.verify()
    assert report.broken.seq == 5 and "previous-hash" in report.broken.reason


def test_rows_cut_off_the_end_are_reported(registry, actor, tiny_ca):
    full = _fill(registry, actor, tiny_ca)
    _tamper(registry, f"DELETE FROM audit_events WHERE seq > {full.head_seq - 2}")
    report = registry.verify()
    assert not report.ok and "cut off" in report.broken.reason
    assert report.broken.row["table"] == "audit_head"


def test_a_rewrite_from_scratch_is_caught_by_an_anchor(registry, actor, tiny_ca):
    full = _fill(registry, actor, tiny_ca)
    anchor = {full.head_seq: full.head_hash}
    # Rewrite the last row's content, recompute its hash and the head: the chain itself is
    # consistent again, so only a hash kept outside the database can tell.
    row = list(registry.events())[-1].to_dict()
    forged = dict(row, subject="forged")
    forged["hash"] = event_hash(forged)
    _tamper(registry, "UPDATE audit_events SET subject = 'forged', hash = :h WHERE seq = :s",
            "UPDATE audit_head SET hash = :h", params={"h": forged["hash"], "s": full.head_seq})
    assert registry.verify().ok
    report = registry.verify(anchors=anchor)
    assert report.broken.seq == full.head_seq and "anchor" in report.broken.reason


def test_canonical_serialisation_is_the_documented_one():
    fields = {
        "seq": 1, "occurred_at": datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "event": "ca.verified",
        "actor": "jdoe", "workstation": "BENCH-01", "subject": "ica-α", "unit_id": None,
        "outcome": "ok", "error": None, "details": '{"n":1}', "prev_hash": GENESIS,
    }
    expected = (
        '{"actor":"jdoe","at":"2025-01-02T03:04:05.000006Z","details":"{\\"n\\":1}","error":null,'
        '"event":"ca.verified","outcome":"ok","prev":"' + GENESIS + '","seq":1,"subject":"ica-α",'
        '"unit_id":null,"v":1,"workstation":"BENCH-01"}'
    )
    assert canonical_bytes(fields) == expected.encode("utf-8")
    assert event_hash(fields) == hashlib.sha256(expected.encode("utf-8")).hexdigest()


def test_chain_continues_across_engines_restarts_and_generic_events(registry_url, actor):
    from certbench.core.registry import open_registry

    for n in range(3):
        with open_registry(registry_url) as reg:
            reg.audit("ca.verification_started", actor=actor, subject=f"ica-{n}")
            reg.audit("ca.verified", actor=Actor("x", "BENCH-07"), subject=f"ica-{n}", outcome="failed",
                      error="proof of possession rejected", details={"attempt": n, "when": datetime.now(UTC)})
    with open_registry(registry_url) as reg:
        report = reg.verify()
        assert report.ok and report.events == 6
        events = list(reg.events())
        assert [e.seq for e in events] == list(range(1, 7))
        assert events[0].prev_hash == GENESIS
        assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:]))
        # An exported copy verifies without the database, also from the middle (--since).
        exported = [e.to_dict() for e in events]
        assert verify_chain(exported, None).ok
        tail = exported[2:]
        assert verify_chain(tail, None, first_seq=3, first_prev=tail[0]["prev_hash"]).ok
        tail[1] = dict(tail[1], error="nothing happened")
        assert verify_chain(tail, None, first_seq=3, first_prev=tail[0]["prev_hash"]).broken.seq == 4
        since = events[3].occurred_at
        assert [e.seq for e in reg.events(since=since)] == [4, 5, 6]
        assert json.loads(events[-1].details)["attempt"] == 2
