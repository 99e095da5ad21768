"""Typed instrument failures, each with what a technician should do about it."""

from __future__ import annotations

from certbench.core.errors import InstrumentError
from certbench.core.instrument.protocol import Cmd, Result

CABLE_HINT = (
    "Check that the USB cable is plugged in at both ends and that the instrument is switched on "
    "and in service mode; if it still does not answer, power-cycle the instrument and retry."
)


class InstrumentNoAnswer(InstrumentError):
    """Nothing valid came back within the timeout, after retransmissions."""


class InstrumentDisconnected(InstrumentError):
    """The port went away (cable pulled, instrument powered off, port closed)."""


class InstrumentPortError(InstrumentError):
    """The serial port could not be opened or configured."""


class WrongInstrument(InstrumentError):
    """The instrument on the port is not the one expected (serial or model differ)."""


class InstrumentRefused(InstrumentError):
    """The instrument answered with a result code other than OK."""

    def __init__(self, cmd: int, result: int, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.cmd = cmd
        self.result = result


class ProtocolViolation(InstrumentError):
    """The instrument answered something the specification does not allow."""


class VerificationFailed(InstrumentError):
    """A read-back hash or the possession signature did not match what was sent."""


_REFUSALS: dict[int, tuple[str, str]] = {
    Result.UNKNOWN_COMMAND: (
        "the instrument does not know this command",
        "Its firmware is older than this version of Certbench expects: update the instrument firmware.",
    ),
    Result.BAD_REQUEST: (
        "the instrument rejected the request as malformed",
        "This is a Certbench or firmware defect: save the log and report it.",
    ),
    Result.UNSUPPORTED_VERSION: (
        "the instrument speaks a protocol version this Certbench does not",
        "Update Certbench or the instrument firmware so both support the same protocol version.",
    ),
    Result.NO_SESSION: (
        "the instrument restarted and lost the session",
        "Keep the instrument powered and the cable still, then retry.",
    ),
    Result.UNKNOWN_STORE: (
        "the instrument has no such credential store",
        "Check that the product model in the catalogue matches this instrument.",
    ),
    Result.TOO_LARGE: (
        "the data does not fit in the instrument's credential store",
        "Use a smaller trust bundle (fewer CA certificates) or check the product model.",
    ),
    Result.NO_TRANSFER: (
        "the instrument lost track of the transfer",
        "Retry; the transfer resumes where it stopped.",
    ),
    Result.OFFSET_GAP: ("the instrument missed part of the transfer", "Retry; the transfer resumes."),
    Result.OUT_OF_RANGE: (
        "data was sent beyond the announced size",
        "This is a Certbench defect: save the log and report it.",
    ),
    Result.HASH_MISMATCH: (
        "the data the instrument received was damaged on the way (checksum mismatch)",
        "Check the cable (try another one, avoid unpowered hubs) and retry.",
    ),
    Result.BAD_FORMAT: (
        "the instrument rejected the content of a credential store as malformed",
        "Check the certificates and key being written (certbench cert inspect).",
    ),
    Result.NOT_WRITABLE: (
        "this instrument does not accept a private key from outside",
        "It generates its own key: use on-device key generation for this product.",
    ),
    Result.NOTHING_STAGED: ("there was nothing to commit", "Write the credentials first, then commit."),
    Result.INCOMPLETE: ("a credential transfer is unfinished, so nothing was committed", "Retry the write step."),
    Result.KEY_CERT_MISMATCH: (
        "the certificate does not belong to the instrument's key, so nothing was committed",
        "The certificate was issued for another key (another unit or an old request): "
        "request a new certificate for this instrument's CSR.",
    ),
    Result.NO_KEY: (
        "the instrument holds no private key for this operation",
        "Provision the instrument (key and certificate) first.",
    ),
    Result.UNSUPPORTED_ALGORITHM: (
        "the instrument cannot generate this key type",
        "Choose one of the key types the instrument lists (certbench instrument hello).",
    ),
    Result.NOT_SUPPORTED: ("the instrument does not support this function", "Check the product's capabilities."),
    Result.LOCKED: (
        "the instrument is locked against changes",
        "An authorised unlock is needed; ask your supervisor.",
    ),
    Result.AUTH_FAILED: ("the unlock was refused", "The unlock secret does not match: ask your supervisor."),
    Result.NOT_LOCKED: ("the instrument is not locked", "Nothing to do."),
    Result.FLASH_ERROR: (
        "the instrument could not write its memory; nothing was changed",
        "Retry once; if it fails again the instrument needs service.",
    ),
    Result.INTERNAL_ERROR: (
        "the instrument reported an internal error",
        "Power-cycle the instrument and retry; if it persists, send it for service.",
    ),
}


def refusal(cmd: int, result: int, detail: str = "") -> InstrumentRefused:
    what, hint = _REFUSALS.get(result, (f"the instrument answered with unknown result code 0x{result:02x}", CABLE_HINT))
    try:
        name = Cmd(cmd).name
    except ValueError:
        name = f"0x{cmd:02x}"
    message = f"{name} failed: {what}{f' ({detail})' if detail else ''}."
    return InstrumentRefused(cmd, result, message[0].upper() + message[1:], hint)
