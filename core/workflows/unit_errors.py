"""Typed refusals and failures of the unit workflows, each with what the technician does next."""

from __future__ import annotations

from certbench.core.errors import CertbenchError, ConfigError, InputError, InstrumentError, ServiceError


class IdentityMismatch(InputError):
    """The instrument on the port reports another serial number or model than the scan."""

    def __init__(self, message: str, hint: str, *, scanned: tuple[str, str], reported: tuple[str, str]) -> None:
        super().__init__(message, hint)
        self.scanned = scanned  # (model, serial)
        self.reported = reported


class DeviceAlreadyInCentral(InputError):
    """IoT Central already has a device with this CN (registration id)."""


class IntermediateNotVerified(ConfigError):
    """The product's intermediate CA is not verified (proof of possession) in IoT Central."""


class UnitRefused(InputError):
    """The unit cannot be provisioned as asked (already done, held by another bench, ...)."""


class KeyLost(CertbenchError):
    """The private key the unit's certificate was ordered for no longer exists."""

    exit_code = 1


class RegistrationFailed(ServiceError):
    """The unit could not register through DPS with its new identity."""


class InstallFailed(InstrumentError):
    """The instrument did not take the credentials as sent."""


__all__ = [
    "DeviceAlreadyInCentral",
    "IdentityMismatch",
    "InstallFailed",
    "IntermediateNotVerified",
    "KeyLost",
    "RegistrationFailed",
    "UnitRefused",
]
