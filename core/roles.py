"""The administrator credential that unlocks administrator functions at a bench.

Technicians work without signing in; changing settings and verifying intermediates needs the
administrator password. Only a salted scrypt hash of it is kept, in the OS keyring under
`secrets.ADMIN_PASSWORD_HASH`, so neither a settings file nor a stolen hash gives the password.
Hashing is deliberately slow (tens of milliseconds): callers run it off the GUI thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from certbench.core import secrets
from certbench.core.errors import InputError, SecretStoreError

# scrypt cost: n=2**15, r=8 takes ~32 MiB and ~0.1 s; stored with the hash so it can grow later.
_N, _R, _P = 2**15, 8, 1
_MAXMEM = 64 * 1024 * 1024
MIN_LENGTH = 8


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None, n: int = _N, r: int = _R, p: int = _P) -> str:
    """`scrypt$n$r$p$salt$hash`, salt and hash in base64."""
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored`; a malformed stored value never matches."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        actual = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt, validate=True),
            n=int(n), r=int(r), p=int(p), maxmem=_MAXMEM, dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def admin_password_is_set() -> bool:
    return bool(secrets.get_secret(secrets.ADMIN_PASSWORD_HASH))


def set_admin_password(password: str, *, allow_short: bool = False) -> None:
    """Store the hash of a new administrator password (`allow_short`: demo mode's "demo")."""
    if not allow_short:
        if len(password) < MIN_LENGTH:
            raise InputError(
                f"The administrator password must have at least {MIN_LENGTH} characters.",
                "Choose a longer password.",
            )
        if password.strip() != password:
            raise InputError("The administrator password must not start or end with a space.")
    secrets.set_secret(secrets.ADMIN_PASSWORD_HASH, hash_password(password))


def check_admin_password(password: str) -> bool:
    """True when `password` is the administrator password; SecretStoreError when none is set."""
    stored = secrets.get_secret(secrets.ADMIN_PASSWORD_HASH)
    if not stored:
        raise SecretStoreError(
            "No administrator password has been set on this workstation.",
            "Set one when Certbench asks for it (Unlock administrator functions).",
        )
    return verify_password(password, stored)


__all__ = ["MIN_LENGTH", "admin_password_is_set", "check_admin_password", "hash_password",
           "set_admin_password", "verify_password"]
