"""Message layer of the instrument protocol: command and result codes, and the byte layout
of every request and response. Shared by the host (core/instrument) and the simulator
(core/emulators/instrument) so both sides read the same definition; the specification a
firmware engineer implements from is docs/instrument-protocol.md.

All integers are big-endian. `str8` is a length byte followed by UTF-8; `bytes16` is a
big-endian u16 length followed by the bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag

PROTOCOL_VERSION = 1
MIN_PROTOCOL_VERSION = 1
RESPONSE_BIT = 0x80
HEADER_SIZE = 3  # type u8, seq u16
RESPONSE_HEADER_SIZE = 4  # type u8, seq u16, result u8
SHA256_SIZE = 32
WIPE_MAGIC = 0x57495045  # "WIPE"
SIGN_CONTEXT = b"CERTBENCH-SIGN-V1"
MIN_NONCE, MAX_NONCE = 16, 64
REQUIRED_REPLAY_DEPTH = 8
UNLOCK_CHALLENGE_SIZE = 16
LOCK_SECRET_SIZE = 32


class Cmd(IntEnum):
    HELLO = 0x01
    STATUS = 0x02
    KEYGEN = 0x03
    STAGE_BEGIN = 0x04
    STAGE_WRITE = 0x05
    COMMIT = 0x06
    ABORT = 0x07
    HASH = 0x08
    SIGN = 0x09
    REGISTER = 0x0A
    WIPE = 0x0B
    LOCK = 0x0C
    UNLOCK_CHALLENGE = 0x0D
    UNLOCK = 0x0E


class Result(IntEnum):
    OK = 0x00
    IN_PROGRESS = 0x01
    UNKNOWN_COMMAND = 0x10
    BAD_REQUEST = 0x11
    UNSUPPORTED_VERSION = 0x12
    NO_SESSION = 0x13
    UNKNOWN_STORE = 0x20
    TOO_LARGE = 0x21
    NO_TRANSFER = 0x22
    OFFSET_GAP = 0x23
    OUT_OF_RANGE = 0x24
    HASH_MISMATCH = 0x25
    BAD_FORMAT = 0x26
    NOT_WRITABLE = 0x27
    NOTHING_STAGED = 0x30
    INCOMPLETE = 0x31
    KEY_CERT_MISMATCH = 0x32
    NO_KEY = 0x33
    UNSUPPORTED_ALGORITHM = 0x34
    NOT_SUPPORTED = 0x35
    LOCKED = 0x40
    AUTH_FAILED = 0x41
    NOT_LOCKED = 0x42
    FLASH_ERROR = 0x50
    INTERNAL_ERROR = 0x7F


class Store(IntEnum):
    TRUST = 0x01  # CA certificates the instrument trusts (server authentication)
    CHAIN = 0x02  # the instrument's own certificate chain, leaf first
    KEY = 0x03  # the private key matching the leaf


class Alg(IntEnum):
    EC_P256 = 0x01
    EC_P384 = 0x02
    RSA_2048 = 0x11
    RSA_3072 = 0x12
    RSA_4096 = 0x13


ALG_NAMES = {
    Alg.EC_P256: "ec-p256",
    Alg.EC_P384: "ec-p384",
    Alg.RSA_2048: "rsa-2048",
    Alg.RSA_3072: "rsa-3072",
    Alg.RSA_4096: "rsa-4096",
}
ALG_BY_NAME = {v: k for k, v in ALG_NAMES.items()}


class Capability(IntFlag):
    KEYGEN = 0x0001
    KEY_IMPORT = 0x0002
    REGISTER = 0x0004
    LOCK = 0x0008


class StateFlag(IntFlag):
    LOCKED = 0x01
    PENDING_KEY = 0x02
    STAGED = 0x04


class SubjectAttr(IntEnum):
    CN = 0x01
    O = 0x02  # noqa: E741 - the X.500 attribute's own name
    OU = 0x03
    C = 0x04
    SERIAL_NUMBER = 0x05
    L = 0x06
    ST = 0x07


# Length in characters of each subject value (RFC 5280 upper bounds; C is exactly two letters).
SUBJECT_LIMITS = {
    SubjectAttr.CN: (1, 64),
    SubjectAttr.O: (1, 64),
    SubjectAttr.OU: (1, 64),
    SubjectAttr.C: (2, 2),
    SubjectAttr.SERIAL_NUMBER: (1, 64),
    SubjectAttr.L: (1, 128),
    SubjectAttr.ST: (1, 128),
}


class RegisterStatus(IntEnum):
    ASSIGNED = 0x00
    NOT_AUTHORIZED = 0x01
    NO_ENROLLMENT = 0x02
    DISABLED = 0x03
    NETWORK_ERROR = 0x04
    TIMEOUT = 0x05
    TLS_ERROR = 0x06
    OTHER = 0x07


# Flags of individual requests.
BEGIN_RESTART = 0x01
KEYGEN_REUSE = 0x01
ABORT_DISCARD_KEY = 0x01
HASH_STAGED = 0x01
REGISTER_SERVER_CA = 0x01


class MessageError(ValueError):
    """A frame passed its CRC but its content does not follow the message layout."""


# ---------------------------------------------------------------- byte helpers


class Writer:
    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def u8(self, v: int) -> Writer:
        self._parts.append(struct.pack(">B", v))
        return self

    def u16(self, v: int) -> Writer:
        self._parts.append(struct.pack(">H", v))
        return self

    def u32(self, v: int) -> Writer:
        self._parts.append(struct.pack(">I", v))
        return self

    def raw(self, b: bytes) -> Writer:
        self._parts.append(bytes(b))
        return self

    def str8(self, s: str) -> Writer:
        b = s.encode("utf-8")
        if len(b) > 255:
            raise MessageError(f"text field longer than 255 bytes: {s[:40]!r}...")
        return self.u8(len(b)).raw(b)

    def bytes16(self, b: bytes) -> Writer:
        if len(b) > 0xFFFF:
            raise MessageError("binary field longer than 65535 bytes")
        return self.u16(len(b)).raw(b)

    def build(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    def __init__(self, data: bytes) -> None:
        self._d = data
        self._i = 0

    def _take(self, n: int) -> bytes:
        if self._i + n > len(self._d):
            raise MessageError(f"message ends early: wanted {n} more bytes at offset {self._i}")
        out = self._d[self._i : self._i + n]
        self._i += n
        return out

    def u8(self) -> int:
        return self._take(1)[0]

    def u16(self) -> int:
        return struct.unpack(">H", self._take(2))[0]

    def u32(self) -> int:
        return struct.unpack(">I", self._take(4))[0]

    def raw(self, n: int) -> bytes:
        return self._take(n)

    def rest(self) -> bytes:
        out = self._d[self._i :]
        self._i = len(self._d)
        return out

    def str8(self) -> str:
        data = self._take(self.u8())
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise MessageError("text field is not valid UTF-8") from None

    def bytes16(self) -> bytes:
        return self._take(self.u16())

    def end(self) -> None:
        if self._i != len(self._d):
            raise MessageError(f"{len(self._d) - self._i} unexpected bytes at the end of the message")


# ---------------------------------------------------------------- frame headers


@dataclass(frozen=True)
class Request:
    cmd: int
    seq: int
    body: bytes

    def to_bytes(self) -> bytes:
        return struct.pack(">BH", self.cmd, self.seq) + self.body


@dataclass(frozen=True)
class Response:
    cmd: int  # the request's command code, without RESPONSE_BIT
    seq: int
    result: int
    body: bytes

    def to_bytes(self) -> bytes:
        return struct.pack(">BHB", self.cmd | RESPONSE_BIT, self.seq, self.result) + self.body


def parse_request(payload: bytes) -> Request:
    if len(payload) < HEADER_SIZE:
        raise MessageError("frame shorter than a request header")
    kind, seq = struct.unpack(">BH", payload[:HEADER_SIZE])
    if kind & RESPONSE_BIT:
        raise MessageError(f"expected a request, got a response type 0x{kind:02x}")
    return Request(kind, seq, payload[HEADER_SIZE:])


def parse_response(payload: bytes) -> Response:
    if len(payload) < RESPONSE_HEADER_SIZE:
        raise MessageError("frame shorter than a response header")
    kind, seq, result = struct.unpack(">BHB", payload[:RESPONSE_HEADER_SIZE])
    if not kind & RESPONSE_BIT:
        raise MessageError(f"expected a response, got a request type 0x{kind:02x}")
    return Response(kind & ~RESPONSE_BIT & 0xFF, seq, result, payload[RESPONSE_HEADER_SIZE:])


# ---------------------------------------------------------------- message bodies


@dataclass(frozen=True)
class HelloRequest:
    min_version: int = MIN_PROTOCOL_VERSION
    max_version: int = PROTOCOL_VERSION
    host_max_frame: int = 4096

    def encode(self) -> bytes:
        return Writer().u8(self.min_version).u8(self.max_version).u16(self.host_max_frame).build()

    @classmethod
    def decode(cls, body: bytes) -> HelloRequest:
        r = Reader(body)
        out = cls(r.u8(), r.u8(), r.u16())
        r.end()
        return out


@dataclass(frozen=True)
class HelloInfo:
    """What an instrument says about itself; the only trustworthy identity of what is on a port."""

    version: int
    rx_buffer: int
    max_frame: int
    replay_depth: int
    boot_id: int
    state: StateFlag
    capabilities: Capability
    model: str
    serial: str
    firmware: str
    algorithms: tuple[int, ...]
    stores: dict[int, int]  # store id -> capacity in bytes

    def encode(self) -> bytes:
        w = (
            Writer()
            .u8(self.version)
            .u16(self.rx_buffer)
            .u16(self.max_frame)
            .u8(self.replay_depth)
            .u32(self.boot_id)
            .u8(int(self.state))
            .u16(int(self.capabilities))
            .str8(self.model)
            .str8(self.serial)
            .str8(self.firmware)
            .u8(len(self.algorithms))
        )
        for alg in self.algorithms:
            w.u8(alg)
        w.u8(len(self.stores))
        for store, capacity in self.stores.items():
            w.u8(store).u32(capacity)
        return w.build()

    @classmethod
    def decode(cls, body: bytes) -> HelloInfo:
        r = Reader(body)
        version, rx_buffer, max_frame, depth, boot = r.u8(), r.u16(), r.u16(), r.u8(), r.u32()
        state, caps = StateFlag(r.u8() & 0x07), Capability(r.u16() & 0x0F)
        model, serial, firmware = r.str8(), r.str8(), r.str8()
        algorithms = tuple(r.u8() for _ in range(r.u8()))
        stores = {}
        for _ in range(r.u8()):
            store = r.u8()
            stores[store] = r.u32()
        r.end()
        return cls(version, rx_buffer, max_frame, depth, boot, state, caps, model, serial, firmware, algorithms, stores)

    def to_dict(self) -> dict:
        return {
            "protocol_version": self.version,
            "model": self.model,
            "serial": self.serial,
            "firmware": self.firmware,
            "rx_buffer": self.rx_buffer,
            "max_frame": self.max_frame,
            "keygen": bool(self.capabilities & Capability.KEYGEN),
            "key_import": bool(self.capabilities & Capability.KEY_IMPORT),
            "register": bool(self.capabilities & Capability.REGISTER),
            "lock": bool(self.capabilities & Capability.LOCK),
            "locked": bool(self.state & StateFlag.LOCKED),
            "pending_key": bool(self.state & StateFlag.PENDING_KEY),
            "algorithms": [ALG_NAMES.get(a, f"0x{a:02x}") for a in self.algorithms],
            "stores": {_store_name(s): cap for s, cap in self.stores.items()},
        }


def _store_name(store: int) -> str:
    try:
        return Store(store).name.lower()
    except ValueError:
        return f"0x{store:02x}"


def store_name(store: int) -> str:
    return _store_name(store)


@dataclass(frozen=True)
class StoreStatus:
    store: int
    live_len: int
    staged_total: int
    staged_received: int
    xfer: int
    staged_complete: bool


@dataclass(frozen=True)
class StatusInfo:
    state: StateFlag
    pending_alg: int
    stores: tuple[StoreStatus, ...]

    def encode(self) -> bytes:
        w = Writer().u8(int(self.state)).u8(self.pending_alg).u8(len(self.stores))
        for s in self.stores:
            w.u8(s.store).u32(s.live_len).u32(s.staged_total).u32(s.staged_received).u8(s.xfer).u8(int(s.staged_complete))
        return w.build()

    @classmethod
    def decode(cls, body: bytes) -> StatusInfo:
        r = Reader(body)
        state, alg = StateFlag(r.u8() & 0x07), r.u8()
        stores = tuple(StoreStatus(r.u8(), r.u32(), r.u32(), r.u32(), r.u8(), bool(r.u8())) for _ in range(r.u8()))
        r.end()
        return cls(state, alg, stores)


@dataclass(frozen=True)
class KeygenRequest:
    alg: int
    subject: tuple[tuple[int, str], ...]
    flags: int = 0

    def encode(self) -> bytes:
        w = Writer().u8(self.alg).u8(self.flags).u8(len(self.subject))
        for attr, value in self.subject:
            w.u8(attr).str8(value)
        return w.build()

    @classmethod
    def decode(cls, body: bytes) -> KeygenRequest:
        r = Reader(body)
        alg, flags = r.u8(), r.u8()
        subject = tuple((r.u8(), r.str8()) for _ in range(r.u8()))
        r.end()
        return cls(alg, subject, flags)


@dataclass(frozen=True)
class KeygenResponse:
    alg: int
    csr_der: bytes

    def encode(self) -> bytes:
        return Writer().u8(self.alg).bytes16(self.csr_der).build()

    @classmethod
    def decode(cls, body: bytes) -> KeygenResponse:
        r = Reader(body)
        out = cls(r.u8(), r.bytes16())
        r.end()
        return out


@dataclass(frozen=True)
class BeginRequest:
    xfer: int
    store: int
    total: int
    sha256: bytes
    flags: int = 0

    def encode(self) -> bytes:
        return Writer().u8(self.xfer).u8(self.store).u8(self.flags).u32(self.total).raw(self.sha256).build()

    @classmethod
    def decode(cls, body: bytes) -> BeginRequest:
        r = Reader(body)
        xfer, store, flags, total, digest = r.u8(), r.u8(), r.u8(), r.u32(), r.raw(SHA256_SIZE)
        r.end()
        return cls(xfer, store, total, digest, flags)


WRITE_HEADER_SIZE = 4  # xfer u8, offset u24
MAX_STORE_SIZE = 0xFFFFFF  # offsets are 24-bit: a credential store is far smaller than 16 MiB


@dataclass(frozen=True)
class WriteRequest:
    xfer: int
    offset: int
    data: bytes

    def encode(self) -> bytes:
        if not 0 <= self.offset <= MAX_STORE_SIZE:
            raise MessageError("offset beyond 24 bits")
        return bytes([self.xfer]) + self.offset.to_bytes(3, "big") + self.data

    @classmethod
    def decode(cls, body: bytes) -> WriteRequest:
        if len(body) < WRITE_HEADER_SIZE:
            raise MessageError("STAGE_WRITE shorter than its header")
        return cls(body[0], int.from_bytes(body[1:4], "big"), body[WRITE_HEADER_SIZE:])


def encode_received(received: int) -> bytes:
    return struct.pack(">I", received)


def decode_received(body: bytes) -> int:
    r = Reader(body)
    value = r.u32()
    r.end()
    return value


@dataclass(frozen=True)
class StoreHash:
    store: int
    present: bool
    sha256: bytes


def encode_hashes(hashes: list[StoreHash]) -> bytes:
    w = Writer().u8(len(hashes))
    for h in hashes:
        w.u8(h.store).u8(int(h.present)).raw(h.sha256 if h.present else bytes(SHA256_SIZE))
    return w.build()


def decode_hashes(body: bytes) -> list[StoreHash]:
    r = Reader(body)
    out = [StoreHash(r.u8(), bool(r.u8()), r.raw(SHA256_SIZE)) for _ in range(r.u8())]
    r.end()
    return out


@dataclass(frozen=True)
class SignResponse:
    alg: int
    signature: bytes

    def encode(self) -> bytes:
        return Writer().u8(self.alg).bytes16(self.signature).build()

    @classmethod
    def decode(cls, body: bytes) -> SignResponse:
        r = Reader(body)
        out = cls(r.u8(), r.bytes16())
        r.end()
        return out


@dataclass(frozen=True)
class RegisterRequest:
    """DPS registration by the instrument itself. The server is checked against the trust
    store, or, when `server_ca_sha256` is given, against only the trust-store certificate
    with that SHA-256 fingerprint (a frame is too small to carry a certificate)."""

    id_scope: str
    host: str = ""
    server_ca_sha256: bytes | None = None

    def encode(self) -> bytes:
        w = Writer().str8(self.id_scope).str8(self.host)
        w.u8(REGISTER_SERVER_CA if self.server_ca_sha256 else 0)
        if self.server_ca_sha256:
            if len(self.server_ca_sha256) != SHA256_SIZE:
                raise MessageError("the server CA fingerprint must be 32 bytes (SHA-256)")
            w.raw(self.server_ca_sha256)
        return w.build()

    @classmethod
    def decode(cls, body: bytes) -> RegisterRequest:
        r = Reader(body)
        scope, host, flags = r.str8(), r.str8(), r.u8()
        ca = r.raw(SHA256_SIZE) if flags & REGISTER_SERVER_CA else None
        r.end()
        return cls(scope, host, ca)


@dataclass(frozen=True)
class RegisterResponse:
    status: int
    assigned_hub: str = ""
    device_id: str = ""
    message: str = ""

    def encode(self) -> bytes:
        return Writer().u8(self.status).str8(self.assigned_hub).str8(self.device_id).str8(_clip_utf8(self.message, 255)).build()

    @classmethod
    def decode(cls, body: bytes) -> RegisterResponse:
        r = Reader(body)
        out = cls(r.u8(), r.str8(), r.str8(), r.str8())
        r.end()
        return out


@dataclass(frozen=True)
class CommitResponse:
    stores: tuple[int, ...] = field(default_factory=tuple)

    def encode(self) -> bytes:
        w = Writer().u8(len(self.stores))
        for s in self.stores:
            w.u8(s)
        return w.build()

    @classmethod
    def decode(cls, body: bytes) -> CommitResponse:
        r = Reader(body)
        out = cls(tuple(r.u8() for _ in range(r.u8())))
        r.end()
        return out


def _clip_utf8(text: str, limit: int) -> str:
    """At most `limit` bytes of UTF-8, cut at a character boundary (str8 counts bytes)."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")
