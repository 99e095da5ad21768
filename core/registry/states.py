"""The per-unit provisioning state machine: which state may follow which, and why.

A unit moves forward one step at a time along `PIPELINE`. The only ways back are the
recovery paths listed in `TRANSITIONS` (retry after a failure, a key lost before ordering, an
order the CA rejected) and the explicit, audited re-provision of a finished, rolled-back or
revoked unit. Some steps carry records with them (the order id, the issued certificate), so
they may only be taken through the registry method named in `Transition.via`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class UnitState(StrEnum):
    SCANNED = "scanned"
    CN_RESERVED = "cn_reserved"
    KEY_READY = "key_ready"
    CERT_ORDERED = "cert_ordered"
    CERT_ISSUED = "cert_issued"
    INSTALLED = "installed"
    VERIFIED = "verified"
    REGISTERED = "registered"
    DONE = "done"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    REVOKED = "revoked"


S = UnitState

PIPELINE: tuple[UnitState, ...] = (
    S.SCANNED, S.CN_RESERVED, S.KEY_READY, S.CERT_ORDERED, S.CERT_ISSUED,
    S.INSTALLED, S.VERIFIED, S.REGISTERED, S.DONE,
)
# States in which provisioning stopped for good until someone re-provisions the unit.
TERMINAL: frozenset[UnitState] = frozenset({S.DONE, S.ROLLED_BACK, S.REVOKED})
# Pipeline states that are still in progress (a crash here is resumed, not restarted).
IN_PROGRESS: tuple[UnitState, ...] = PIPELINE[:-1]
# States in which the unit holds a certificate that a CA has issued.
HAS_CERTIFICATE: frozenset[UnitState] = frozenset(
    {S.CERT_ISSUED, S.INSTALLED, S.VERIFIED, S.REGISTERED, S.DONE}
)


@dataclass(frozen=True)
class Transition:
    source: UnitState
    target: UnitState
    kind: str  # step | recovery | failure | rollback | revoke | reprovision
    why: str
    # The registry method that must take this transition because it records more than the
    # state (None: `Registry.transition` may take it).
    via: str | None = None


def _build() -> dict[tuple[UnitState, UnitState], Transition]:
    edges: list[Transition] = [
        Transition(S.SCANNED, S.CN_RESERVED, "step", "CN reserved", "reserve_cn"),
        Transition(S.CN_RESERVED, S.KEY_READY, "step", "key pair ready, CSR read"),
        Transition(S.KEY_READY, S.CERT_ORDERED, "step", "certificate ordered", "record_certificate_order"),
        Transition(S.CERT_ORDERED, S.CERT_ISSUED, "step", "certificate collected", "record_certificate_issued"),
        Transition(S.CERT_ISSUED, S.INSTALLED, "step", "certificate written to the instrument", "mark_installed"),
        Transition(S.INSTALLED, S.VERIFIED, "step", "instrument proved it holds the key"),
        Transition(S.VERIFIED, S.REGISTERED, "step", "registration checked through DPS"),
        Transition(S.REGISTERED, S.DONE, "step", "provisioning complete"),
        # The registration check is optional (a setting); without it a verified unit is done.
        Transition(S.VERIFIED, S.DONE, "step", "provisioning complete without a registration check"),
        # Recovery paths.
        Transition(S.KEY_READY, S.CN_RESERVED, "recovery", "key lost before any order was placed; make a new one"),
        Transition(S.CERT_ORDERED, S.KEY_READY, "recovery", "the CA rejected or cancelled the order", "record_order_rejected"),
    ]
    for state in IN_PROGRESS:
        edges.append(Transition(state, S.FAILED, "failure", "a step failed", "fail"))
        edges.append(Transition(state, S.ROLLED_BACK, "rollback", "provisioning abandoned", "roll_back"))
    edges.append(Transition(S.FAILED, S.ROLLED_BACK, "rollback", "provisioning abandoned", "roll_back"))
    for state in (*HAS_CERTIFICATE, S.FAILED, S.ROLLED_BACK):
        edges.append(Transition(state, S.REVOKED, "revoke", "certificate revoked", "mark_revoked"))
    for state in TERMINAL:
        edges.append(Transition(state, S.CN_RESERVED, "reprovision", "re-provisioned (board swap, renewal)", "reprovision"))
    # FAILED -> the state it failed in ("retry") is checked against the unit's record.
    for state in IN_PROGRESS:
        edges.append(Transition(S.FAILED, state, "recovery", "retry after a failure", "retry"))
    return {(edge.source, edge.target): edge for edge in edges}


TRANSITIONS: dict[tuple[UnitState, UnitState], Transition] = _build()


def find_transition(source: UnitState, target: UnitState) -> Transition | None:
    return TRANSITIONS.get((UnitState(source), UnitState(target)))


def allowed_targets(source: UnitState) -> list[UnitState]:
    return [edge.target for (src, _), edge in TRANSITIONS.items() if src == source]


# What the workflow does next when it resumes a unit in a given state.
NEXT_STEP: dict[UnitState, str] = {
    S.SCANNED: "reserve_cn",
    S.CN_RESERVED: "prepare_key",
    S.KEY_READY: "order_certificate",
    S.CERT_ORDERED: "collect_certificate",
    S.CERT_ISSUED: "install_certificate",
    S.INSTALLED: "verify_instrument",
    S.VERIFIED: "check_registration",
    S.REGISTERED: "finish",
    S.DONE: "nothing",
    S.ROLLED_BACK: "reprovision",
    S.REVOKED: "reprovision",
}
