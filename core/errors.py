"""The error type every Certbench failure is expressed in.

A technician reads these messages, so each error carries two sentences: what went wrong
(`message`) and what to do about it (`hint`). The CLI maps `exit_code` to its process exit
status (see docs/cli.md); the GUI shows both sentences in its failure panel.
"""

from __future__ import annotations


class CertbenchError(Exception):
    """Base class: a failure a person can act on."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class InputError(CertbenchError):
    """Malformed or unsuitable input: a file, a scan, a name. Nothing was changed."""

    exit_code = 3


class ConfigError(CertbenchError):
    """The settings are invalid or incomplete."""

    exit_code = 4


class ServiceError(CertbenchError):
    """An outside service (IoT Central, Sectigo, DPS, the database) failed or refused."""

    exit_code = 5


class InstrumentError(CertbenchError):
    """The instrument on the serial line failed, refused or did not answer."""

    exit_code = 6


class SecretStoreError(CertbenchError):
    """The OS keyring is missing or refused to store or give a secret."""

    exit_code = 7
