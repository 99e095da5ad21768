"""A unit interrupted in any state is resumed from exactly there, after the process (and its
database connections) went away; an ordered certificate is collected, never ordered twice."""

from __future__ import annotations

import pytest
from registry_helpers import drive_to, finish

from certbench.core.registry import Actor, AlreadyOrdered, UnitState, open_registry

S = UnitState
EXPECTED = {
    S.SCANNED: "reserve_cn", S.CN_RESERVED: "prepare_key", S.KEY_READY: "order_certificate",
    S.CERT_ORDERED: "collect_certificate", S.CERT_ISSUED: "install_certificate",
    S.INSTALLED: "verify_instrument", S.VERIFIED: "check_registration", S.REGISTERED: "finish",
    S.DONE: "nothing", S.FAILED: "collect_certificate", S.ROLLED_BACK: "reprovision",
    S.REVOKED: "reprovision",
}


@pytest.mark.parametrize("state", list(UnitState), ids=lambda s: s.value)
def test_resume_from_every_state(registry_url, actor, tiny_ca, state):
    first = open_registry(registry_url)
    unit = drive_to(first, state, actor, tiny_ca)
    order_before = first.current_certificate(unit)
    first.close()  # the bench crashed; another bench (or a restart) picks the unit up

    other_bench = Actor("maria", "BENCH-02")
    registry = open_registry(registry_url)
    try:
        plan = registry.resume_info(unit.cn or unit.id)
        assert plan.unit.state == state
        assert plan.next_step == EXPECTED[state]
        assert plan.message
        if state in (S.CERT_ORDERED, S.FAILED):
            # The placed order is handed back for collection...
            assert plan.order_id == order_before.order_id
            # ...and a second order is refused.
            if state == S.CERT_ORDERED:
                with pytest.raises(AlreadyOrdered, match=order_before.order_id):
                    registry.record_certificate_order(plan.unit, "ica-site-a", "ORD-duplicate", actor=other_bench)
        current = plan.unit
        if state == S.FAILED:
            assert plan.retry_from == S.CERT_ORDERED and plan.can_resume
            current = registry.retry(current, actor=other_bench)
        elif state in (S.ROLLED_BACK, S.REVOKED, S.DONE):
            assert not plan.can_resume
            current = registry.reprovision(current, "board swap", actor=other_bench)
            assert current.generation == 2 and current.state == S.CN_RESERVED
        done = finish(registry, current, other_bench, tiny_ca)
        assert done.state == S.DONE and done.last_workstation == "BENCH-02"
        certificates = registry.certificates(done)
        # Exactly one certificate is live; anything earlier was superseded, rejected or revoked.
        assert [c.status for c in certificates].count("installed") == 1
        orders = [c.order_id for c in certificates]
        assert len(orders) == len(set(orders))
        if order_before is not None and state not in (S.ROLLED_BACK, S.REVOKED, S.DONE):
            assert certificates[-1].order_id == order_before.order_id  # collected, not re-ordered
        assert registry.verify().ok
    finally:
        registry.close()


def test_reprovision_supersedes_the_old_certificate(registry, actor, tiny_ca):
    unit = drive_to(registry, S.DONE, actor, tiny_ca)
    old = registry.current_certificate(unit)
    unit = registry.reprovision(unit, "main board replaced (RMA 4711)", actor=actor)
    assert unit.generation == 2 and unit.state == S.CN_RESERVED
    assert registry.current_certificate(unit) is None
    superseded = registry.certificates(unit)[0]
    assert superseded.id == old.id and superseded.status == "superseded"
    assert "RMA 4711" in superseded.end_reason
    event = registry.unit_events(unit)[-1]
    assert event.event == "unit.reprovisioned" and old.sha256 in event.details and "RMA 4711" in event.details
    unit = finish(registry, unit, actor, tiny_ca)
    statuses = [(c.generation, c.status) for c in registry.certificates(unit)]
    assert statuses == [(1, "superseded"), (2, "installed")]


def test_reprovision_needs_a_reason_and_a_finished_unit(registry, actor, tiny_ca):
    from certbench.core.errors import InputError
    from certbench.core.registry import InvalidTransition

    unit = drive_to(registry, S.INSTALLED, actor, tiny_ca)
    with pytest.raises(InvalidTransition):
        registry.reprovision(unit, "renewal", actor=actor)
    unit = drive_to(registry, S.DONE, actor, tiny_ca)
    with pytest.raises(InputError):
        registry.reprovision(unit, "  ", actor=actor)
    assert registry.get_unit(unit.id).generation == 1


def test_unfinished_units_are_offered_for_resume(registry, actor, tiny_ca):
    other = Actor("bob", "BENCH-09")
    drive_to(registry, S.DONE, actor, tiny_ca)
    waiting = drive_to(registry, S.CERT_ISSUED, actor, tiny_ca)
    failed = drive_to(registry, S.FAILED, other, tiny_ca)
    assert {u.id for u in registry.unfinished_units()} == {waiting.id, failed.id}
    assert [u.id for u in registry.unfinished_units("BENCH-09")] == [failed.id]
