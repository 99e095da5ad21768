"""The persisted per-unit state machine: every valid step works, every invalid one is refused
and changes nothing, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from registry_helpers import HAPPY_PATH, drive_to, new_unit, step

from certbench.core.errors import InputError
from certbench.core.registry import Actor, InvalidTransition, StaleUnit, UnitState
from certbench.core.registry.states import PIPELINE, TRANSITIONS, find_transition

S = UnitState
ALL = list(UnitState)


def test_table_never_skips_or_goes_back_outside_recovery_paths():
    for (source, target), edge in TRANSITIONS.items():
        if source in PIPELINE and target in PIPELINE and edge.kind == "step":
            gap = PIPELINE.index(target) - PIPELINE.index(source)
            # One step forward; the only allowed jump is verified -> done (no registration check).
            assert gap == 1 or (source, target) == (S.VERIFIED, S.DONE), edge
        if source in PIPELINE and target in PIPELINE and PIPELINE.index(target) < PIPELINE.index(source):
            assert edge.kind in ("recovery", "reprovision"), edge
    assert find_transition(S.SCANNED, S.CERT_ORDERED) is None
    assert find_transition(S.DONE, S.INSTALLED) is None
    assert find_transition(S.CERT_ISSUED, S.CERT_ORDERED) is None


def test_happy_path_records_every_step(registry, actor, tiny_ca):
    unit = new_unit(registry, actor, scanned_only=True)
    seen = [unit.state]
    while unit.state != S.DONE:
        unit = step(registry, unit, actor, tiny_ca)
        seen.append(unit.state)
    assert seen == HAPPY_PATH
    assert unit.firmware == "4.2.1"
    events = [e.event for e in registry.unit_events(unit)]
    assert events == ["unit.scanned"] + [f"unit.{s.value}" for s in HAPPY_PATH[1:]]
    cert = registry.current_certificate(unit)
    assert cert.status == "installed" and cert.sha256 and cert.installed_at
    assert registry.verify().ok


def _snapshot(registry):
    units = {u.id: (u.state, u.generation) for u in registry.list_units(limit=1000)}
    return units, registry.head()


@pytest.mark.parametrize("source", ALL, ids=lambda s: s.value)
def test_every_invalid_target_is_refused_and_changes_nothing(registry, actor, tiny_ca, source):
    unit = drive_to(registry, source, actor, tiny_ca)
    before = _snapshot(registry)
    for target in ALL:
        edge = find_transition(source, target)
        if edge is not None and edge.via is None:
            continue  # valid through transition(); exercised elsewhere
        with pytest.raises(InvalidTransition) as info:
            registry.transition(unit, target, actor=actor)
        assert info.value.hint
        assert _snapshot(registry) == before, f"{source} -> {target} changed the registry"


def test_recovery_paths(registry, actor, tiny_ca):
    # Key lost before ordering: make a new one.
    unit = drive_to(registry, S.KEY_READY, actor, tiny_ca)
    unit = registry.transition(unit, S.CN_RESERVED, actor=actor, reason="instrument reset, key gone")
    assert unit.state == S.CN_RESERVED
    # Order rejected by the CA: back to key_ready, and a new order is then accepted.
    unit = drive_to(registry, S.CERT_ORDERED, actor, tiny_ca)
    first = registry.current_certificate(unit)
    unit = registry.record_order_rejected(unit, "CSR key too small", actor=actor)
    assert unit.state == S.KEY_READY
    certs = registry.certificates(unit)
    assert [c.status for c in certs] == ["rejected"] and certs[0].order_id == first.order_id
    registry.record_certificate_order(unit, "ica-site-a", "ORD-second", actor=actor)
    assert registry.current_certificate(unit).order_id == "ORD-second"
    # Failure and retry go back exactly to the failed state, not anywhere else.
    unit = registry.fail(registry.get_unit(unit.id), "timeout collecting", actor=actor)
    assert (unit.state, unit.failed_from) == (S.FAILED, S.CERT_ORDERED)
    with pytest.raises(InvalidTransition):
        registry.transition(unit, S.KEY_READY, actor=actor)
    unit = registry.retry(unit, actor=actor)
    assert unit.state == S.CERT_ORDERED and unit.failed_from is None and unit.last_error is None
    with pytest.raises(InvalidTransition):
        registry.retry(unit, actor=actor)


def test_verified_may_finish_without_registration_check(registry, actor, tiny_ca):
    unit = drive_to(registry, S.VERIFIED, actor, tiny_ca)
    assert registry.transition(unit, S.DONE, actor=actor, registration_check="off").state == S.DONE


def test_dedicated_steps_refuse_wrong_states(registry, actor, tiny_ca):
    unit = drive_to(registry, S.CN_RESERVED, actor, tiny_ca)
    with pytest.raises(InvalidTransition):
        registry.record_certificate_order(unit, "ica-site-a", "ORD-early", actor=actor)
    with pytest.raises(InvalidTransition):
        registry.record_certificate_issued(unit, tiny_ca.issue(unit.cn), actor=actor)
    with pytest.raises(InvalidTransition):
        registry.mark_installed(unit, actor=actor)
    with pytest.raises(InvalidTransition):
        registry.mark_revoked(unit, "no certificate yet", actor=actor)
    with pytest.raises(InvalidTransition):
        registry.reprovision(unit, "not finished", actor=actor)
    assert registry.certificates(unit) == []
    assert registry.get_unit(unit.id).state == S.CN_RESERVED


def test_issued_certificate_must_belong_to_the_unit(registry, actor, tiny_ca):
    unit = drive_to(registry, S.CERT_ORDERED, actor, tiny_ca)
    with pytest.raises(InputError, match="another unit|is for CN"):
        registry.record_certificate_issued(unit, tiny_ca.issue("someone-else"), actor=actor)
    assert registry.get_unit(unit.id).state == S.CERT_ORDERED
    # The same certificate recorded twice (a retried step) is accepted once.
    cert = tiny_ca.issue(unit.cn)
    first = registry.record_certificate_issued(unit, cert, actor=actor)
    again = registry.record_certificate_issued(unit.cn, cert, actor=actor)
    assert first.id == again.id and again.sha256 == first.sha256
    assert [e.event for e in registry.unit_events(unit)].count("unit.cert_issued") == 1


def test_a_stale_snapshot_is_refused(registry, tiny_ca):
    bench_a, bench_b = Actor("alice", "BENCH-A"), Actor("bob", "BENCH-B")
    seen_by_a = drive_to(registry, S.CN_RESERVED, bench_a, tiny_ca)
    seen_by_b = registry.get_unit(seen_by_a.cn)
    registry.transition(seen_by_b, S.KEY_READY, actor=bench_b)
    with pytest.raises(StaleUnit, match="bob on BENCH-B"):
        registry.transition(seen_by_a, S.KEY_READY, actor=bench_a)


@pytest.mark.parametrize(
    "serial, model, gtin, cn",
    [("", "MX", None, "cn-1"), ("SN1", "MX", "12345", "cn-2"), ("SN2", "MX", None, "x" * 65),
     ("SN\x003", "MX", None, "cn-3"), ("SN4", "  ", None, "cn-4")],
)
def test_bad_input_changes_nothing(registry, actor, serial, model, gtin, cn):
    head = registry.head()
    with pytest.raises(InputError):
        registry.reserve(serial, model, gtin, cn, actor=actor)
    assert registry.count_units() == 0 and registry.head() == head


def test_actor_must_name_someone():
    with pytest.raises(InputError):
        Actor("", "BENCH-1")
    with pytest.raises(InputError):
        Actor("jdoe", " ")
