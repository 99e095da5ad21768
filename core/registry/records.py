"""What the registry hands out: plain, immutable snapshots that outlive the database session
(safe to pass to a GUI worker thread or print as JSON)."""

from __future__ import annotations

import socket
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from certbench.core.errors import InputError
from certbench.core.registry.states import UnitState

MAX_NAME = 64


@dataclass(frozen=True)
class Actor:
    """Who does something, and on which bench: every change is attributed to one."""

    operator: str
    workstation: str

    def __post_init__(self) -> None:
        for label, value in (("operator", self.operator), ("workstation", self.workstation)):
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"The {label} name is empty.", f"Every registry change names its {label}; sign in first.")
            if len(value) > MAX_NAME:
                raise InputError(f"The {label} name is longer than {MAX_NAME} characters.", f"Use a shorter {label} name.")

    @classmethod
    def here(cls, operator: str) -> Actor:
        """`operator` working on this computer (its host name is the workstation)."""
        return cls(operator, socket.gethostname() or "unknown-host")


@dataclass(frozen=True)
class UnitRecord:
    id: int
    cn: str | None
    serial: str
    model: str
    gtin: str | None
    state: UnitState
    failed_from: UnitState | None
    last_error: str | None
    generation: int
    firmware: str | None
    operator: str
    workstation: str
    last_operator: str
    last_workstation: str
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CertificateRecord:
    id: int
    unit_id: int
    generation: int
    status: str
    intermediate: str
    issuer_dn: str | None
    order_id: str
    serial_number: str | None
    sha256: str | None
    sha1: str | None
    not_before: datetime | None
    not_after: datetime | None
    ordered_at: datetime
    issued_at: datetime | None
    installed_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    occurred_at: datetime
    event: str
    actor: str
    workstation: str
    subject: str | None
    unit_id: int | None
    outcome: str
    error: str | None
    details: str  # canonical JSON text, exactly as hashed
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ResumePlan:
    """Where an interrupted unit stands and what the workflow does next.

    `next_step` is one of: reserve_cn, prepare_key, order_certificate, collect_certificate,
    install_certificate, verify_instrument, check_registration, finish, nothing (done),
    reprovision (rolled back or revoked: only an explicit re-provision continues).
    A failed unit resumes from `retry_from` after `Registry.retry()`.
    """

    unit: UnitRecord
    next_step: str
    retry_from: UnitState | None
    certificate: CertificateRecord | None
    message: str

    @property
    def order_id(self) -> str | None:
        """The order to collect (never to place again) when the unit is `cert_ordered`."""
        return self.certificate.order_id if self.certificate else None

    @property
    def can_resume(self) -> bool:
        return self.next_step not in ("nothing", "reprovision")

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit.to_dict(),
            "next_step": self.next_step,
            "retry_from": self.retry_from,
            "certificate": self.certificate.to_dict() if self.certificate else None,
            "order_id": self.order_id,
            "can_resume": self.can_resume,
            "message": self.message,
        }
