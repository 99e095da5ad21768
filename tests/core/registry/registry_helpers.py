"""Drive a unit to any state through the registry's real operations (no direct SQL)."""

from __future__ import annotations

import itertools

from certbench.core.registry import Actor, Registry, UnitRecord, UnitState

S = UnitState
_counter = itertools.count(1)

HAPPY_PATH = [S.SCANNED, S.CN_RESERVED, S.KEY_READY, S.CERT_ORDERED, S.CERT_ISSUED,
              S.INSTALLED, S.VERIFIED, S.REGISTERED, S.DONE]


def new_unit(registry: Registry, actor: Actor, *, scanned_only: bool = False) -> UnitRecord:
    n = next(_counter)
    serial, model = f"SN{n:06d}", "MX-200"
    if scanned_only:
        return registry.record_scan(serial, model, "09506000134352", actor=actor)
    return registry.reserve(serial, model, "09506000134352", f"{model}-{serial}".lower(), actor=actor)


def step(registry: Registry, unit: UnitRecord, actor: Actor, ca) -> UnitRecord:
    """Take the one forward step from the unit's state, the way a workflow would."""
    state = unit.state
    if state == S.SCANNED:
        return registry.reserve_cn(unit, f"{unit.model}-{unit.serial}".lower(), actor=actor)
    if state == S.CN_RESERVED:
        return registry.transition(unit, S.KEY_READY, actor=actor, key_origin="device", firmware="4.2.1")
    if state == S.KEY_READY:
        registry.record_certificate_order(unit, "ica-site-a", f"ORD-{unit.id}-g{unit.generation}", actor=actor)
        return registry.get_unit(unit.id)
    if state == S.CERT_ORDERED:
        registry.record_certificate_issued(unit, ca.issue(unit.cn), actor=actor)
        return registry.get_unit(unit.id)
    if state == S.CERT_ISSUED:
        return registry.mark_installed(unit, actor=actor, readback="match")
    if state == S.INSTALLED:
        return registry.transition(unit, S.VERIFIED, actor=actor, challenge="signed")
    if state == S.VERIFIED:
        return registry.transition(unit, S.REGISTERED, actor=actor, dps_status="assigned")
    if state == S.REGISTERED:
        return registry.transition(unit, S.DONE, actor=actor)
    raise AssertionError(f"no forward step from {state}")


def drive_to(registry: Registry, target: UnitState, actor: Actor, ca) -> UnitRecord:
    """A new unit in `target`: pipeline states by stepping; failed/rolled back/revoked from
    a representative pipeline state."""
    if target == S.FAILED:
        unit = drive_to(registry, S.CERT_ORDERED, actor, ca)
        return registry.fail(unit, "instrument stopped answering", actor=actor)
    if target == S.ROLLED_BACK:
        unit = drive_to(registry, S.KEY_READY, actor, ca)
        return registry.roll_back(unit, "wrong product on the bench", actor=actor)
    if target == S.REVOKED:
        unit = drive_to(registry, S.DONE, actor, ca)
        return registry.mark_revoked(unit, "unit scrapped", actor=actor)
    unit = new_unit(registry, actor, scanned_only=True)
    while unit.state != target:
        unit = step(registry, unit, actor, ca)
    return unit


def finish(registry: Registry, unit: UnitRecord, actor: Actor, ca) -> UnitRecord:
    while unit.state != S.DONE:
        unit = step(registry, unit, actor, ca)
    return unit
