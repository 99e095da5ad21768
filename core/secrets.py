"""Secrets (API tokens, passwords, OAuth client secrets, the local CA's key passphrase) live in
the OS keyring and nowhere else: Windows Credential Manager on the workstations.

Names are fixed strings under one service name so IT can find and clear them. Values are
never logged; `redact()` scrubs known secret values from any text before it is logged.
"""

from __future__ import annotations

import secrets as _random
import threading

import keyring
import keyring.backend
import keyring.errors
from keyring.backends import fail as _fail_backend

from certbench.core.errors import SecretStoreError

SERVICE = "certbench"

IOTCENTRAL_TOKEN = "iotcentral-api-token"
SECTIGO_PASSWORD = "sectigo-password"
SECTIGO_OAUTH_SECRET = "sectigo-oauth-client-secret"
SECTIGO_CLIENT_CERT_PASSPHRASE = "sectigo-client-cert-passphrase"
LOCAL_CA_PASSPHRASE = "local-ca-passphrase"
ADMIN_PASSWORD_HASH = "admin-password-hash"
# The PostgreSQL password of a shared registry (the URL in the settings carries none).
REGISTRY_PASSWORD = "registry-password"

_seen_values: set[str] = set()
_seen_lock = threading.Lock()


# Shorter values are not scrubbed: replacing every "admin" or "test" in a log would garble
# it, and real tokens, passwords and passphrases are far longer.
_MIN_REDACT_LENGTH = 8


def _remember(value: str) -> None:
    if value and len(value) >= _MIN_REDACT_LENGTH:
        with _seen_lock:
            _seen_values.add(value)


def backend_name() -> str:
    backend = keyring.get_keyring()
    return f"{type(backend).__module__}.{type(backend).__name__}"


def keyring_usable() -> bool:
    backend = keyring.get_keyring()
    if isinstance(backend, _fail_backend.Keyring):
        return False
    try:
        return backend.priority > 0  # type: ignore[operator]
    except Exception:  # noqa: BLE001 - a backend that cannot even say its priority is unusable
        return False


def _no_keyring_error(exc: Exception | None = None) -> SecretStoreError:
    detail = f" ({type(exc).__name__})" if exc else ""
    return SecretStoreError(
        f"No usable OS keyring was found on this machine{detail}.",
        "Certbench keeps secrets only in the OS keyring (Windows Credential Manager). "
        "Sign in to Windows normally, or on Linux install and unlock a Secret Service keyring. "
        "Demo mode works without one.",
    )


def get_secret(name: str) -> str | None:
    try:
        value = keyring.get_password(SERVICE, name)
    except keyring.errors.NoKeyringError as exc:
        raise _no_keyring_error(exc) from None
    except keyring.errors.KeyringError as exc:
        raise SecretStoreError(
            f"The OS keyring refused to give the secret '{name}' ({type(exc).__name__}).",
            "Unlock the keyring (or sign in again) and retry.",
        ) from None
    if value is not None:
        _remember(value)
    return value


def require_secret(name: str, what: str) -> str:
    value = get_secret(name)
    if not value:
        raise SecretStoreError(
            f"The {what} is not set.",
            f"Set it in Settings, or run: certbench config set-secret {name}",
        )
    return value


# Windows Credential Manager stores a secret as UTF-16 in a blob of at most 2560 bytes.
MAX_SECRET_BYTES = 2560


def set_secret(name: str, value: str) -> None:
    if not value:
        raise SecretStoreError(f"Refusing to store an empty value for '{name}'.")
    size = len(value.encode("utf-16-le"))
    if size > MAX_SECRET_BYTES:
        raise SecretStoreError(
            f"The value for '{name}' is too long for the OS keyring ({len(value)} characters; "
            f"at most {MAX_SECRET_BYTES // 2} fit in Windows Credential Manager).",
            "Check that only the secret itself was pasted (no surrounding text or whole files).",
        )
    try:
        keyring.set_password(SERVICE, name, value)
    except keyring.errors.NoKeyringError as exc:
        raise _no_keyring_error(exc) from None
    except keyring.errors.PasswordSetError as exc:
        raise SecretStoreError(
            f"The OS keyring refused to store '{name}' ({type(exc).__name__}).",
            "Windows Credential Manager holds at most 2560 bytes per secret; check the value's size.",
        ) from None
    _remember(value)


def delete_secret(name: str) -> None:
    try:
        keyring.delete_password(SERVICE, name)
    except keyring.errors.PasswordDeleteError:
        pass
    except keyring.errors.NoKeyringError as exc:
        raise _no_keyring_error(exc) from None


def get_or_create_secret(name: str, nbytes: int = 32) -> str:
    """A random secret made on first use (e.g. the local CA's passphrase)."""
    value = get_secret(name)
    if not value:
        value = _random.token_urlsafe(nbytes)
        set_secret(name, value)
    return value


def redact(text: str) -> str:
    """Replace every secret value this process has seen with `***`."""
    with _seen_lock:
        values = sorted(_seen_values, key=len, reverse=True)
    for value in values:
        text = text.replace(value, "***")
    return text


def forget_seen_values() -> None:
    """Drop the values `redact()` knows (tests start each case clean)."""
    with _seen_lock:
        _seen_values.clear()


def register_secret_value(value: str) -> None:
    """Make `redact()` scrub a secret that did not come through the keyring (e.g. a token
    typed into a dialog before it is saved, or an emulator's generated token)."""
    _remember(value)


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that lives only as long as the process: demo mode on a machine without a
    usable OS keyring, and tests. Never used for real secrets of a production bench."""

    priority = 1  # type: ignore[assignment]

    # Never chosen by keyring's automatic backend discovery (which would otherwise pick it on
    # a machine without an OS keyring and lose every secret at exit); only set explicitly.
    viable = False

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.store:
            raise keyring.errors.PasswordDeleteError(username)
        del self.store[(service, username)]


def use_memory_keyring() -> MemoryKeyring:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend
