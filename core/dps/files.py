"""The files azure-iot-device insists on, for as short a time as possible.

The SDK's X509 takes file paths and loads them when the client is created. They go into a
fresh private folder (0700; files 0600; on Windows the folder sits in the user's own
temporary folder), the key encrypted under a random one-time passphrase, and everything is
removed as soon as the SDK has loaded it, on every path out.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from cryptography import x509

from certbench.core.x509.keys import PrivateKey, encrypt_private_key
from certbench.core.x509.parse import to_pem


@dataclass(frozen=True)
class CredentialFiles:
    folder: str
    certificate_file: str
    key_file: str
    passphrase: str = field(repr=False)


def _write_private(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


@contextmanager
def sdk_credential_files(chain: Sequence[x509.Certificate], key: PrivateKey) -> Iterator[CredentialFiles]:
    """Chain (leaf first, every certificate is sent in the handshake) and encrypted key in a
    private folder that exists only inside the `with` block."""
    folder = tempfile.mkdtemp(prefix="certbench-dps-")
    try:
        os.chmod(folder, 0o700)
        passphrase = secrets.token_urlsafe(32)
        cert_path = os.path.join(folder, "chain.pem")
        key_path = os.path.join(folder, "key.pem")
        _write_private(cert_path, to_pem(chain).encode("ascii"))
        _write_private(key_path, encrypt_private_key(key, passphrase.encode()))
        yield CredentialFiles(folder, cert_path, key_path, passphrase)
    finally:
        remove_folder(folder)


def remove_folder(folder: str) -> None:
    """Remove the folder; overwrite the key file first so its bytes do not linger."""
    key_path = os.path.join(folder, "key.pem")
    try:
        size = os.path.getsize(key_path)
        with open(key_path, "r+b") as handle:
            handle.write(b"\0" * size)
    except OSError:
        pass
    shutil.rmtree(folder, ignore_errors=True)
