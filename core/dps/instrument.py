"""The instrument-side registration check, host half: explain an instrument's REGISTER answer
in a technician's words, and confirm through IoT Central that the device it registered as
exists and is provisioned (DPS saying "assigned" is half the proof; the device showing up
provisioned in the application is the other half).

Used by `certbench instrument register` and the unit workflow's registration step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from cryptography import x509

from certbench.core.errors import InstrumentError, ServiceError
from certbench.core.instrument.protocol import Capability, RegisterResponse, RegisterStatus

_WHAT = {
    RegisterStatus.NOT_AUTHORIZED: "DPS refused the instrument's certificate",
    RegisterStatus.NO_ENROLLMENT: "DPS found no enrollment for the instrument",
    RegisterStatus.DISABLED: "the instrument's enrollment group is disabled",
    RegisterStatus.NETWORK_ERROR: "the instrument could not reach DPS",
    RegisterStatus.TIMEOUT: "the registration did not finish in time",
    RegisterStatus.TLS_ERROR: "the instrument does not trust the DPS server (or TLS failed)",
    RegisterStatus.OTHER: "the registration failed",
}
_HINTS = {
    RegisterStatus.NOT_AUTHORIZED: "Check what the instrument holds: its chain must be the device certificate with its "
                                   "intermediate, the intermediate verified in an enabled enrollment group "
                                   "(certbench ca status), the CN equal to the device id, and the certificate valid. "
                                   "Re-provision the unit if its credentials are wrong.",
    RegisterStatus.NO_ENROLLMENT: "Verify the product's intermediate in IoT Central (certbench ca verify NAME).",
    RegisterStatus.DISABLED: "Enable the enrollment group in IoT Central, then register again.",
    RegisterStatus.NETWORK_ERROR: "Check the DPS host name and that the instrument has network access (port 8883).",
    RegisterStatus.TIMEOUT: "Try again; if it persists, check the instrument's network and the DPS host.",
    RegisterStatus.TLS_ERROR: "Check the DPS host name, and that the server's CA is in the instrument's trust store "
                              "(--ca must name one of its TRUST certificates).",
    RegisterStatus.OTHER: "Try again; if it persists, note the instrument's message and contact support.",
}


class InstrumentRegistrationFailed(ServiceError):
    def __init__(self, message: str, hint: str, status: int) -> None:
        super().__init__(message, hint)
        self.status = status


class DeviceNotConfirmed(ServiceError):
    """DPS assigned the device, but IoT Central does not show it provisioned."""


def status_name(status: int) -> str:
    try:
        return RegisterStatus(status).name
    except ValueError:
        return f"UNKNOWN_{status:#04x}"


def check_answer(answer: RegisterResponse) -> RegisterResponse:
    """The answer when the instrument was assigned; otherwise InstrumentRegistrationFailed
    saying why in words (the instrument's own message included)."""
    if answer.status == RegisterStatus.ASSIGNED:
        return answer
    try:
        status = RegisterStatus(answer.status)
    except ValueError:
        status = RegisterStatus.OTHER
    said = f" The instrument reports: {answer.message}" if answer.message else ""
    raise InstrumentRegistrationFailed(
        f"The instrument could not register through DPS: {_WHAT[status]} ({status_name(answer.status)}).{said}",
        _HINTS[status], answer.status,
    )


def confirm_in_central(central: Any, device_id: str) -> Any:
    """The IoT Central device `device_id`, which must exist, be provisioned and enabled."""
    device = central.find_device(device_id)
    if device is None:
        raise DeviceNotConfirmed(
            f"DPS assigned '{device_id}', but IoT Central has no device with that id.",
            "Check that the DPS ID scope belongs to this IoT Central application ([dps] id_scope).",
        )
    if not device.provisioned:
        raise DeviceNotConfirmed(
            f"DPS assigned '{device_id}', but IoT Central shows the device as not provisioned.",
            "Wait a few seconds and check again; if it stays so, check the application's enrollment groups.",
        )
    if not device.enabled:
        raise DeviceNotConfirmed(
            f"Device '{device_id}' is provisioned in IoT Central but disabled, so it cannot connect.",
            "Enable it in IoT Central (Devices), unless it was disabled on purpose.",
        )
    return device


@dataclass(frozen=True)
class InstrumentRegistration:
    model: str
    serial: str
    assigned_hub: str
    device_id: str
    central: str  # "provisioned", or "not checked: <why>"

    def to_dict(self) -> dict[str, Any]:
        return {"status": "ASSIGNED", **asdict(self)}


GLOBAL_HOST = "global.azure-devices-provisioning.net"


def register_instrument(inst: Any, *, id_scope: str, host: str = "", server_ca: x509.Certificate | None = None,
                        central: Any = None) -> InstrumentRegistration:
    """REGISTER on the greeted instrument `inst` (certbench.core.instrument.Instrument), then,
    with an IoT Central client, the device must be there and provisioned. Raises
    InstrumentRegistrationFailed / DeviceNotConfirmed (ServiceError) otherwise."""
    info = inst.info
    if info is not None and not info.capabilities & Capability.REGISTER:
        raise InstrumentError(
            f"Instrument {info.model} {info.serial} (firmware {info.firmware}) cannot register itself with DPS "
            "(it has no REGISTER function).",
            "Check the registration from the workstation instead (`certbench dps register --chain FILE --key FILE`) "
            "where the key is available, or update the instrument's firmware.",
        )
    answer = check_answer(inst.register(id_scope, "" if host == GLOBAL_HOST else host, server_ca=server_ca))
    if central is None:
        verdict = "not checked: no IoT Central application is configured"
    else:
        confirm_in_central(central, answer.device_id)
        verdict = "provisioned"
    return InstrumentRegistration(info.model if info else "", info.serial if info else "", answer.assigned_hub,
                                  answer.device_id, verdict)


__all__ = ["DeviceNotConfirmed", "InstrumentRegistration", "InstrumentRegistrationFailed", "check_answer",
           "confirm_in_central", "register_instrument", "status_name"]
