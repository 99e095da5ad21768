"""The unit registry: every unit, its certificates, and a tamper-evident audit trail.

    from certbench.core.registry import open_registry, Actor, UnitState

    registry = open_registry(settings.registry.url or None)   # None: local SQLite file
    actor = Actor.here("jdoe")
    unit = registry.reserve(serial, model, gtin, cn, actor=actor)   # race-safe across benches
    unit = registry.transition(unit, UnitState.KEY_READY, actor=actor, key_origin="device")
    registry.record_certificate_order(unit, "Site-A", order_id, actor=actor)  # before collecting
    ...

See docs/registry.md for the data model, the state diagram and the audit chain format.
"""

from certbench.core.registry.audit import BrokenLink, ChainReport, verify_chain
from certbench.core.registry.errors import (
    AlreadyOrdered,
    InvalidTransition,
    RegistryError,
    RegistryUnavailable,
    ReservationConflict,
    SchemaTooNew,
    SecretRefused,
    StaleUnit,
    UnitNotFound,
)
from certbench.core.registry.records import Actor, AuditRecord, CertificateRecord, ResumePlan, UnitRecord
from certbench.core.registry.service import Registry, open_registry
from certbench.core.registry.states import UnitState

__all__ = [
    "Actor",
    "AlreadyOrdered",
    "AuditRecord",
    "BrokenLink",
    "CertificateRecord",
    "ChainReport",
    "InvalidTransition",
    "Registry",
    "RegistryError",
    "RegistryUnavailable",
    "ReservationConflict",
    "ResumePlan",
    "SchemaTooNew",
    "SecretRefused",
    "StaleUnit",
    "UnitNotFound",
    "UnitRecord",
    "UnitState",
    "open_registry",
    "verify_chain",
]
