"""Typed registry failures, each with a message and a hint a technician can act on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from certbench.core.errors import CertbenchError, ConfigError, InputError, ServiceError

if TYPE_CHECKING:
    from certbench.core.registry.records import UnitRecord


class RegistryError(CertbenchError):
    """The registry refused an operation; nothing was changed."""


class RegistryUnavailable(ServiceError):
    """The database could not be opened or reached, or failed mid-operation."""


class SchemaTooNew(ConfigError):
    """The database was upgraded by a newer Certbench than this one."""


class UnitNotFound(InputError):
    """No unit matches the CN, serial or id given."""


class ReservationConflict(RegistryError):
    """Another bench (or an earlier run) already holds this CN or this serial number."""

    def __init__(self, message: str, hint: str, *, conflict: str, value: str, holder: UnitRecord | None) -> None:
        super().__init__(message, hint)
        self.conflict = conflict  # "cn" or "serial"
        self.value = value
        self.holder = holder


class InvalidTransition(RegistryError):
    """The unit cannot go from its current state to the requested one."""


class StaleUnit(RegistryError):
    """The unit changed (on this or another bench) since the caller last read it."""


class AlreadyOrdered(RegistryError):
    """A certificate is already ordered for this unit: it must be collected, not re-ordered."""


class SecretRefused(RegistryError):
    """Something that is or may hold a secret or a private key was about to be recorded."""
