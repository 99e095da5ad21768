"""The simulated instrument's non-volatile memory: live stores, staging area, pending
(generated, not yet committed) key and lock state, in a folder per instrument.

Private keys are kept as encrypted PKCS#8 with a passphrase from the OS keyring
(`instrument-sim-<serial>`), never in clear; a staged (imported) key lives only in RAM
until its transfer completes. `state.json` is replaced atomically (write, fsync, rename):
that rename is the simulator's single commit point, like the bank switch of a firmware
that keeps two copies of its credential area.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from certbench.core import secrets
from certbench.core.x509.keys import PrivateKey, encrypt_private_key, load_encrypted_private_key, public_key_bytes

STATE_FILE = "state.json"
STATE_VERSION = 1


class PowerLoss(Exception):
    """Raised by a fault hook to simulate the supply failing at that exact point."""


@dataclass
class StoredKey:
    alg: int
    encrypted_pem: str
    spki: bytes  # public part, so HASH needs no decryption


@dataclass
class Staged:
    xfer: int
    total: int
    sha256: bytes
    received: int = 0
    complete: bool = False


@dataclass
class State:
    live: dict[int, bytes] = field(default_factory=dict)  # TRUST / CHAIN canonical bytes
    live_key: StoredKey | None = None
    pending_key: StoredKey | None = None  # made by KEYGEN, waits for its certificate
    staged: dict[int, Staged] = field(default_factory=dict)
    lock_secret: str | None = None  # AES-GCM encrypted


def _safe(serial: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", serial) or "_"


class SecureStore:
    def __init__(self, folder: Path, serial: str, fault: Callable[[str], None] | None = None) -> None:
        self.folder = Path(folder) / _safe(serial)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.serial = serial
        self.fault = fault or (lambda point: None)
        self._passphrase: bytes | None = None
        self.state = self.load()

    # ------------------------------------------------------------ secrets

    def passphrase(self) -> bytes:
        if self._passphrase is None:
            self._passphrase = secrets.get_or_create_secret(f"instrument-sim-{self.serial}").encode()
        return self._passphrase

    def seal_key(self, alg: int, key: PrivateKey) -> StoredKey:
        return StoredKey(alg, encrypt_private_key(key, self.passphrase()).decode("ascii"), public_key_bytes(key))

    def open_key(self, stored: StoredKey) -> PrivateKey:
        return load_encrypted_private_key(stored.encrypted_pem.encode("ascii"), self.passphrase())

    def _aead(self) -> AESGCM:
        import hashlib

        return AESGCM(hashlib.sha256(b"instrument-sim-lock" + self.passphrase()).digest())

    def seal_secret(self, secret: bytes) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self._aead().encrypt(nonce, secret, None)).decode("ascii")

    def open_secret(self, sealed: str) -> bytes:
        raw = base64.b64decode(sealed)
        return self._aead().decrypt(raw[:12], raw[12:], None)

    # ------------------------------------------------------------ staging data

    def staged_path(self, store: int) -> Path:
        return self.folder / f"staged-{store}.bin"

    def write_staged(self, store: int, offset: int, data: bytes) -> None:
        path = self.staged_path(store)
        mode = "r+b" if path.exists() else "w+b"
        with open(path, mode) as f:
            f.seek(offset)
            f.write(data)

    def read_staged(self, store: int, length: int) -> bytes:
        with open(self.staged_path(store), "rb") as f:
            return f.read(length)

    def drop_staged(self, store: int) -> None:
        self.staged_path(store).unlink(missing_ok=True)

    # ------------------------------------------------------------ state file

    def load(self) -> State:
        path = self.folder / STATE_FILE
        if not path.exists():
            return State()
        doc = json.loads(path.read_text("utf-8"))

        def key(d: dict | None) -> StoredKey | None:
            return StoredKey(d["alg"], d["pem"], base64.b64decode(d["spki"])) if d else None

        state = State(
            live={int(k): base64.b64decode(v) for k, v in doc.get("live", {}).items()},
            live_key=key(doc.get("live_key")),
            pending_key=key(doc.get("pending_key")),
            staged={
                int(k): Staged(v["xfer"], v["total"], bytes.fromhex(v["sha256"]), v["received"], v["complete"])
                for k, v in doc.get("staged", {}).items()
            },
            lock_secret=doc.get("lock_secret"),
        )
        for store, staged in list(state.staged.items()):
            # Staged bytes on flash may be fewer than recorded if power failed mid-write.
            path = self.staged_path(store)
            have = path.stat().st_size if path.exists() else 0
            if staged.complete and have < staged.total:
                staged.complete = False
            staged.received = min(staged.received if staged.complete else have, staged.total)
        return state

    def save(self, state: State | None = None, *, point: str = "save") -> None:
        state = state or self.state

        def key(k: StoredKey | None) -> dict | None:
            return {"alg": k.alg, "pem": k.encrypted_pem, "spki": base64.b64encode(k.spki).decode()} if k else None

        doc = {
            "version": STATE_VERSION,
            "live": {str(k): base64.b64encode(v).decode() for k, v in state.live.items()},
            "live_key": key(state.live_key),
            "pending_key": key(state.pending_key),
            "staged": {
                str(k): {"xfer": v.xfer, "total": v.total, "sha256": v.sha256.hex(), "received": v.received, "complete": v.complete}
                for k, v in state.staged.items()
            },
            "lock_secret": state.lock_secret,
        }
        data = json.dumps(doc, indent=1).encode("utf-8")
        tmp = self.folder / (STATE_FILE + ".tmp")
        self.fault(f"{point}:before-write")
        with open(tmp, "wb") as f:
            f.write(data[: len(data) // 2])
            f.flush()
            self.fault(f"{point}:half-written")
            f.write(data[len(data) // 2 :])
            f.flush()
            os.fsync(f.fileno())
        self.fault(f"{point}:written")
        os.replace(tmp, self.folder / STATE_FILE)
        self.fault(f"{point}:replaced")
        self.state = state

    def wipe_files(self) -> None:
        for path in self.folder.glob("staged-*.bin"):
            path.unlink(missing_ok=True)


SAVE_POINTS = ("before-write", "half-written", "written", "replaced")
