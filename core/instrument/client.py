"""The host's view of one instrument: every command of the protocol as a method, plus
`provision()`, the complete write-commit-verify sequence the unit workflow uses.

An `Instrument` is identified by what it says in HELLO (serial, model), never by the port
it happens to be on: pass `expect_serial` and a different unit on that port is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from certbench.core.instrument.canonical import canonical_certificates, key_hash, key_store_bytes, sha256
from certbench.core.instrument.errors import (
    InstrumentRefused,
    ProtocolViolation,
    VerificationFailed,
    WrongInstrument,
    refusal,
)
from certbench.core.instrument.link import HOST_MAX_FRAME, Link, SessionLost
from certbench.core.instrument.protocol import (
    ABORT_DISCARD_KEY,
    ALG_BY_NAME,
    HASH_STAGED,
    KEYGEN_REUSE,
    MIN_PROTOCOL_VERSION,
    PROTOCOL_VERSION,
    SIGN_CONTEXT,
    SUBJECT_LIMITS,
    WIPE_MAGIC,
    Capability,
    Cmd,
    CommitResponse,
    HelloInfo,
    HelloRequest,
    KeygenRequest,
    KeygenResponse,
    MessageError,
    RegisterRequest,
    RegisterResponse,
    Response,
    Result,
    SignResponse,
    StatusInfo,
    Store,
    WRITE_HEADER_SIZE,
    SubjectAttr,
    decode_hashes,
)
from certbench.core.instrument.transfer import Progress, StoreWriter
from certbench.core.instrument.transport import DEFAULT_BAUD, SerialTransport, Transport
from certbench.core.x509.keys import PrivateKey

MAX_SESSION_RESTARTS = 3
_SUBJECT_ATTRS = {
    "CN": SubjectAttr.CN,
    "O": SubjectAttr.O,
    "OU": SubjectAttr.OU,
    "C": SubjectAttr.C,
    "SERIALNUMBER": SubjectAttr.SERIAL_NUMBER,
    "L": SubjectAttr.L,
    "ST": SubjectAttr.ST,
}
_FIRMWARE_HINT = "Its firmware does not follow the protocol specification: report it to the firmware team."


@dataclass(frozen=True)
class ProvisionResult:
    stores_written: tuple[int, ...]
    already_provisioned: bool
    hashes: dict[int, bytes]


class Instrument:
    def __init__(
        self,
        transport: Transport,
        *,
        baud: int = DEFAULT_BAUD,
        expect_serial: str | None = None,
        expect_model: str | None = None,
        response_timeout: float = 0.3,
        max_retries: int = 8,
    ) -> None:
        self.link = Link(transport, baud=baud, response_timeout=response_timeout, max_retries=max_retries)
        self.expect_serial = expect_serial
        self.expect_model = expect_model
        self.info: HelloInfo | None = None

    @classmethod
    def open(cls, port: str, baud: int = DEFAULT_BAUD, **kwargs) -> Instrument:
        """Open a COM port, /dev/tty* or pyserial URL (socket://, rfc2217://) and say HELLO."""
        instrument = cls(SerialTransport(port, baud), baud=baud, **kwargs)
        try:
            instrument.hello()
        except BaseException:
            instrument.close()
            raise
        return instrument

    def close(self) -> None:
        self.link.transport.close()

    def __enter__(self) -> Instrument:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def description(self) -> str:
        return self.link.transport.description

    # ------------------------------------------------------------ session

    def hello(self) -> HelloInfo:
        self.link.reset_boot_limits()
        response = self.link.request(Cmd.HELLO, HelloRequest(host_max_frame=HOST_MAX_FRAME).encode(), check=False)
        if response.result == Result.UNSUPPORTED_VERSION:
            lo, hi = (response.body[0], response.body[1]) if len(response.body) >= 2 else (0, 0)
            raise refusal(Cmd.HELLO, response.result, f"instrument speaks {lo}..{hi}, Certbench {MIN_PROTOCOL_VERSION}..{PROTOCOL_VERSION}")
        if response.result != Result.OK:
            raise refusal(Cmd.HELLO, response.result)
        info = _decode(HelloInfo.decode, response.body)
        if not MIN_PROTOCOL_VERSION <= info.version <= PROTOCOL_VERSION:
            raise ProtocolViolation(f"The instrument chose protocol version {info.version}, which was not offered.", _FIRMWARE_HINT)
        self._check_identity(info)
        self.link.configure(info.rx_buffer, info.max_frame, info.replay_depth)
        self.info = info
        return info

    def _check_identity(self, info: HelloInfo) -> None:
        if self.expect_serial is not None and info.serial != self.expect_serial:
            raise WrongInstrument(
                f"The instrument on {self.description} reports serial number {info.serial!r}, "
                f"not {self.expect_serial!r} as expected.",
                "Connect the instrument whose label was scanned, or scan the label of the instrument that is connected.",
            )
        if self.expect_model is not None and info.model != self.expect_model:
            raise WrongInstrument(
                f"The instrument on {self.description} is a {info.model!r}, not a {self.expect_model!r}.",
                "Connect the right product, or choose the matching product model.",
            )

    def _ensure_session(self) -> HelloInfo:
        return self.info if self.info is not None else self.hello()

    def _after_reboot(self) -> None:
        """The instrument restarted: same unit? Then carry on with a new session."""
        previous = self.info
        self.info = None
        info = self.hello()
        if previous is not None and (info.serial, info.model) != (previous.serial, previous.model):
            raise WrongInstrument(
                f"A different instrument ({info.model} {info.serial}) answered on {self.description} after a restart.",
                "Reconnect the instrument that was being provisioned and retry.",
            )

    def _call(self, cmd: int, body: bytes = b"", *, check: bool = True) -> Response:
        self._ensure_session()
        for _ in range(MAX_SESSION_RESTARTS):
            try:
                return self.link.request(cmd, body, check=check)
            except SessionLost:
                self._after_reboot()
        raise refusal(cmd, Result.NO_SESSION, "the instrument keeps restarting")

    def _require(self, capability: Capability, what: str) -> None:
        info = self._ensure_session()
        if not info.capabilities & capability:
            raise InstrumentRefused(
                0, Result.NOT_SUPPORTED, f"This instrument ({info.model}, firmware {info.firmware}) does not support {what}.",
                "Check the product model's settings in the catalogue.",
            )

    # ------------------------------------------------------------ commands

    def status(self) -> StatusInfo:
        return _decode(StatusInfo.decode, self._call(Cmd.STATUS).body)

    def keygen(self, algorithm: str | int, subject: str | dict[str, str], *, reuse: bool = False) -> x509.CertificateSigningRequest:
        """The instrument makes a key pair (or, with `reuse`, keeps the one it made before and
        has not committed yet) and returns a CSR for `subject` (a CN, or attribute -> value)."""
        self._require(Capability.KEYGEN, "on-device key generation")
        alg = ALG_BY_NAME[algorithm] if isinstance(algorithm, str) else algorithm
        attrs = {"CN": subject} if isinstance(subject, str) else subject
        encoded = []
        for name, value in attrs.items():
            code = _SUBJECT_ATTRS.get(name.upper().replace("_", ""))
            if code is None:
                raise InstrumentRefused(Cmd.KEYGEN, Result.BAD_REQUEST, f"The subject attribute {name!r} cannot be sent to an instrument.",
                                        f"Use only {', '.join(_SUBJECT_ATTRS)}.")
            low, high = SUBJECT_LIMITS[code]
            if not low <= len(value) <= high:
                size = f"exactly {low}" if low == high else f"{low} to {high}"
                raise InstrumentRefused(
                    Cmd.KEYGEN, Result.BAD_REQUEST,
                    f"The subject's {name} {value!r} has {len(value)} characters; certificates allow {size}.",
                    "Shorten it: check the product's CN template and subject settings.")
            encoded.append((int(code), value))
        body = KeygenRequest(int(alg), tuple(encoded), KEYGEN_REUSE if reuse else 0).encode()
        response = _decode(KeygenResponse.decode, self._call(Cmd.KEYGEN, body).body)
        try:
            csr = x509.load_der_x509_csr(response.csr_der)
        except ValueError:
            raise ProtocolViolation("The instrument returned a certificate request that cannot be read.", _FIRMWARE_HINT) from None
        if not csr.is_signature_valid:
            raise ProtocolViolation("The instrument returned a certificate request with an invalid signature.", _FIRMWARE_HINT)
        return csr

    def write_stores(self, stores: dict[int, bytes], progress: Progress | None = None, *, restart: bool = False) -> None:
        """Stage `stores` (store id -> canonical bytes), pipelined and resumable."""
        self._ensure_session()
        for _ in range(MAX_SESSION_RESTARTS):
            writer = StoreWriter(stores, self.link.max_body(self.link.preferred_frame()) - WRITE_HEADER_SIZE, progress, restart)
            try:
                self.link.run(writer)
                return
            except SessionLost:
                self._after_reboot()
        raise refusal(Cmd.STAGE_WRITE, Result.NO_SESSION, "the instrument keeps restarting")

    def commit(self) -> tuple[int, ...]:
        return _decode(CommitResponse.decode, self._call(Cmd.COMMIT, b"\x00").body).stores

    def abort(self, *, discard_key: bool = False) -> None:
        self._call(Cmd.ABORT, bytes([ABORT_DISCARD_KEY if discard_key else 0]))

    def hashes(self, *, staged: bool = False) -> dict[int, bytes | None]:
        body = self._call(Cmd.HASH, bytes([HASH_STAGED if staged else 0])).body
        return {h.store: (h.sha256 if h.present else None) for h in _decode(decode_hashes, body)}

    def sign(self, nonce: bytes) -> SignResponse:
        return _decode(SignResponse.decode, self._call(Cmd.SIGN, nonce).body)

    def verify_possession(self, leaf: x509.Certificate) -> None:
        """Proof that the instrument holds the private key of `leaf`: it signs a fresh random
        nonce, checked here against the certificate's public key."""
        nonce = os.urandom(32)
        signature = self.sign(nonce).signature
        message = SIGN_CONTEXT + nonce
        public = leaf.public_key()
        try:
            if isinstance(public, ec.EllipticCurvePublicKey):
                public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
            elif isinstance(public, rsa.RSAPublicKey):
                public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            else:
                raise InvalidSignature()
        except InvalidSignature:
            raise VerificationFailed(
                "The instrument could not prove it holds the private key of its certificate (signature check failed).",
                "Provision the instrument again; if this repeats, the instrument's key store is faulty.",
            ) from None

    def register(self, id_scope: str, host: str = "", server_ca: x509.Certificate | None = None) -> RegisterResponse:
        """The instrument registers itself with DPS using what it holds and reports the outcome.
        `server_ca` must be in its trust store; without it the whole trust store is used."""
        fingerprint = server_ca.fingerprint(hashes.SHA256()) if server_ca is not None else None
        body = RegisterRequest(id_scope, host, fingerprint).encode()
        return _decode(RegisterResponse.decode, self._call(Cmd.REGISTER, body).body)

    def wipe(self) -> None:
        self._call(Cmd.WIPE, WIPE_MAGIC.to_bytes(4, "big"))

    def lock(self, secret: bytes) -> None:
        self._require(Capability.LOCK, "locking")
        self._call(Cmd.LOCK, _lock_secret(secret))

    def unlock(self, secret: bytes) -> None:
        self._require(Capability.LOCK, "locking")
        challenge = self._call(Cmd.UNLOCK_CHALLENGE).body
        mac = hmac.new(_lock_secret(secret), challenge, hashlib.sha256).digest()
        self._call(Cmd.UNLOCK, mac)

    # ------------------------------------------------------------ the whole sequence

    def provision(
        self,
        trust: list[x509.Certificate],
        chain: list[x509.Certificate],
        key: PrivateKey | None = None,
        progress: Progress | None = None,
    ) -> ProvisionResult:
        """Write trust store, client chain (and key, for products without on-device key
        generation), commit atomically, read back every hash and check possession.
        Safe to call again after any interruption: what is already live is not rewritten,
        and a half-finished transfer resumes."""
        stores = {Store.TRUST: canonical_certificates(trust), Store.CHAIN: canonical_certificates(chain)}
        expected = {Store.TRUST: sha256(stores[Store.TRUST]), Store.CHAIN: sha256(stores[Store.CHAIN]), Store.KEY: key_hash(chain[0].public_key())}
        if key is not None:
            self._require(Capability.KEY_IMPORT, "writing a private key from the workstation")
            if key_hash(key) != expected[Store.KEY]:
                raise VerificationFailed("The private key does not belong to the leaf certificate.",
                                         "Pair the certificate with the key it was issued for.")
            stores[Store.KEY] = key_store_bytes(key)
        live = self.hashes()
        if all(live.get(s) == h for s, h in expected.items()):
            self.verify_possession(chain[0])
            if progress:
                progress(sum(map(len, stores.values())), sum(map(len, stores.values())))
            return ProvisionResult((), True, {int(s): h for s, h in expected.items()})
        written: tuple[int, ...] = ()
        for attempt in range(2):
            self.write_stores({int(s): d for s, d in stores.items()}, progress)
            boot = self._ensure_session().boot_id
            try:
                written = self.commit()
                break
            except InstrumentRefused as exc:
                if exc.result == Result.NOTHING_STAGED:
                    break  # committed before the instrument restarted; its answer was lost
                if attempt or self._ensure_session().boot_id == boot:
                    raise
                # The instrument restarted during COMMIT and lost part of the staging (a
                # staged key lives in RAM): stage again, which resumes, and commit again.
        live = self.hashes()
        for store, digest in expected.items():
            if live.get(store) != digest:
                raise VerificationFailed(
                    f"After writing, the instrument's {Store(store).name.lower()} store does not hold what was sent.",
                    "Retry provisioning; if it fails again, the instrument's storage is faulty.",
                )
        self.verify_possession(chain[0])
        return ProvisionResult(written, False, {int(s): h for s, h in expected.items()})


def _lock_secret(secret: bytes) -> bytes:
    # Any length of secret maps onto the 32 bytes the protocol carries.
    return hashlib.sha256(b"certbench-lock-v1" + secret).digest()


def _decode(fn: Callable, body: bytes):
    try:
        return fn(body)
    except MessageError as exc:
        raise ProtocolViolation(f"The instrument sent a malformed answer: {exc}.", _FIRMWARE_HINT) from None


__all__ = ["Instrument", "ProvisionResult"]
