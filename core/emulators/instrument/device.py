"""The instrument's firmware logic, as the specification describes it: one request in, one
answer out, in arrival order, with a replay cache for duplicates. This is the reference
implementation of docs/instrument-protocol.md; line effects (pacing, noise, pulled cables)
are added around it by line.py.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from certbench.core.instrument.canonical import key_hash, parse_canonical_certificates
from certbench.core.instrument.framing import crc32
from certbench.core.instrument.protocol import (
    ABORT_DISCARD_KEY,
    ALG_NAMES,
    BEGIN_RESTART,
    HASH_STAGED,
    KEYGEN_REUSE,
    LOCK_SECRET_SIZE,
    MAX_NONCE,
    MIN_NONCE,
    MIN_PROTOCOL_VERSION,
    PROTOCOL_VERSION,
    SHA256_SIZE,
    SIGN_CONTEXT,
    SUBJECT_LIMITS,
    UNLOCK_CHALLENGE_SIZE,
    WIPE_MAGIC,
    Alg,
    BeginRequest,
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
    Request,
    Response,
    Result,
    SignResponse,
    StateFlag,
    StatusInfo,
    Store,
    StoreHash,
    StoreStatus,
    SubjectAttr,
    WriteRequest,
    encode_hashes,
    encode_received,
    parse_request,
)
from certbench.core.emulators.instrument.store import SecureStore, Staged, State, StoredKey
from certbench.core.x509.keys import KeySpec, PrivateKey, generate_key, key_spec_of, public_key_bytes

KEEPALIVE_INTERVAL = 0.1  # IN_PROGRESS at least this often while a command runs (spec: <= 0.2 s)

_OIDS = {
    SubjectAttr.CN: NameOID.COMMON_NAME,
    SubjectAttr.O: NameOID.ORGANIZATION_NAME,
    SubjectAttr.OU: NameOID.ORGANIZATIONAL_UNIT_NAME,
    SubjectAttr.C: NameOID.COUNTRY_NAME,
    SubjectAttr.SERIAL_NUMBER: NameOID.SERIAL_NUMBER,
    SubjectAttr.L: NameOID.LOCALITY_NAME,
    SubjectAttr.ST: NameOID.STATE_OR_PROVINCE_NAME,
}

# Called for REGISTER: (request, chain certificates, private key) -> answer; a handler
# with `takes_trust_store = True` also gets the live TRUST certificates (`trust=`), which is
# what a real instrument verifies the DPS server with. The real DPS client plugs in here
# (certbench.core.emulators.instrument.register.DpsRegistrar).
RegisterHandler = Callable[..., RegisterResponse]


class Refused(Exception):
    def __init__(self, result: int, body: bytes = b"") -> None:
        super().__init__(result)
        self.result = result
        self.body = body


@dataclass
class DeviceConfig:
    model: str = "MC-100"
    serial: str = "SIM0001"
    firmware: str = "1.0.0"
    keygen: bool = True
    key_import: bool = False
    algorithms: tuple[int, ...] = (Alg.EC_P256, Alg.EC_P384, Alg.RSA_2048)
    rx_buffer: int = 256
    max_frame: int = 256
    replay_depth: int = 8
    capacities: dict[int, int] = field(default_factory=lambda: {Store.TRUST: 16384, Store.CHAIN: 8192, Store.KEY: 4096})
    lock: bool = True
    flash_delay: float = 0.0  # seconds per flash write (staged chunk, commit)
    register_handler: RegisterHandler | None = None

    @property
    def capabilities(self) -> Capability:
        caps = Capability(0)
        if self.keygen:
            caps |= Capability.KEYGEN
        if self.key_import:
            caps |= Capability.KEY_IMPORT
        if self.register_handler is not None:
            caps |= Capability.REGISTER
        if self.lock:
            caps |= Capability.LOCK
        return caps

    @property
    def stores(self) -> dict[int, int]:
        return {s: c for s, c in self.capacities.items() if s != Store.KEY or self.key_import}


class Device:
    """Handles decoded request frames. `send` puts a response frame payload on the line."""

    def __init__(self, config: DeviceConfig, store: SecureStore) -> None:
        self.config = config
        self.store = store
        self.lock = threading.RLock()
        self.boot()

    # ------------------------------------------------------------ power

    def boot(self) -> None:
        """Power-on: RAM is gone, non-volatile memory is read back."""
        self.boot_id = random.getrandbits(32)
        self.session = False
        self.host_max_frame = 64
        self.replay: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self.staged_key_data = bytearray()  # an imported key in transfer, RAM only
        self.staged_key_obj: tuple[int, PrivateKey] | None = None  # ... and once complete, until COMMIT
        self.challenge: bytes | None = None
        self._live_key_cache: PrivateKey | None = None
        self.store.state = self.store.load()
        self.store.state.staged.pop(Store.KEY, None)  # its bytes were only in RAM

    @property
    def state(self) -> State:
        return self.store.state

    # ------------------------------------------------------------ dispatch

    def handle(self, payload: bytes, send: Callable[[bytes], None]) -> None:
        try:
            request = parse_request(payload)
        except MessageError:
            return  # a response-typed or runt frame: not for us
        key = (request.seq, crc32(payload))
        with self.lock:
            cached = self.replay.get(key)
            if cached is not None:
                send(cached)
                return
            if not self.session and request.cmd != Cmd.HELLO:
                send(Response(request.cmd, request.seq, Result.NO_SESSION, b"").to_bytes())
                return

            def keepalive() -> None:
                send(Response(request.cmd, request.seq, Result.IN_PROGRESS, b"").to_bytes())

            try:
                result, body = Result.OK, self._dispatch(request, keepalive)
            except Refused as refused:
                result, body = refused.result, refused.body
            except MessageError:
                result, body = Result.BAD_REQUEST, b""
            out = Response(request.cmd, request.seq, result, body).to_bytes()
            if request.cmd == Cmd.HELLO and result == Result.OK:
                self.replay.clear()
            self.replay[key] = out
            while len(self.replay) > self.config.replay_depth:
                self.replay.popitem(last=False)
            send(out)

    def _dispatch(self, req: Request, keepalive: Callable[[], None]) -> bytes:
        handler = {
            Cmd.HELLO: self._hello,
            Cmd.STATUS: self._status,
            Cmd.KEYGEN: self._keygen,
            Cmd.STAGE_BEGIN: self._begin,
            Cmd.STAGE_WRITE: self._write,
            Cmd.COMMIT: self._commit,
            Cmd.ABORT: self._abort,
            Cmd.HASH: self._hash,
            Cmd.SIGN: self._sign,
            Cmd.REGISTER: self._register,
            Cmd.WIPE: self._wipe,
            Cmd.LOCK: self._lock,
            Cmd.UNLOCK_CHALLENGE: self._unlock_challenge,
            Cmd.UNLOCK: self._unlock,
        }.get(req.cmd)
        if handler is None:
            raise Refused(Result.UNKNOWN_COMMAND)
        return handler(req.body, keepalive)

    def _slow(self, fn: Callable[[], object], keepalive: Callable[[], None]) -> object:
        """Run `fn` while telling the host, every KEEPALIVE_INTERVAL, that work goes on."""
        box: dict[str, object] = {}

        def run() -> None:
            try:
                box["value"] = fn()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the device thread
                box["error"] = exc

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        while True:
            worker.join(KEEPALIVE_INTERVAL)
            if not worker.is_alive():
                break
            keepalive()
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box.get("value")

    def _flash(self) -> None:
        if self.config.flash_delay:
            threading.Event().wait(self.config.flash_delay)

    def _locked(self) -> None:
        if self.state.lock_secret is not None:
            raise Refused(Result.LOCKED)

    def _flags(self) -> StateFlag:
        flags = StateFlag(0)
        if self.state.lock_secret is not None:
            flags |= StateFlag.LOCKED
        if self.state.pending_key is not None:
            flags |= StateFlag.PENDING_KEY
        if self.state.staged:
            flags |= StateFlag.STAGED
        return flags

    # ------------------------------------------------------------ commands

    def _hello(self, body: bytes, keepalive) -> bytes:
        req = HelloRequest.decode(body)
        if req.max_version < MIN_PROTOCOL_VERSION or req.min_version > PROTOCOL_VERSION or req.min_version > req.max_version:
            raise Refused(Result.UNSUPPORTED_VERSION, bytes([MIN_PROTOCOL_VERSION, PROTOCOL_VERSION]))
        self.session = True
        self.host_max_frame = req.host_max_frame
        c = self.config
        return HelloInfo(
            min(PROTOCOL_VERSION, req.max_version), c.rx_buffer, c.max_frame, c.replay_depth, self.boot_id,
            self._flags(), c.capabilities, c.model, c.serial, c.firmware,
            tuple(c.algorithms) if c.keygen else (), c.stores,
        ).encode()

    def _status(self, body: bytes, keepalive) -> bytes:
        if body:
            raise Refused(Result.BAD_REQUEST)
        stores = []
        for store in self.config.stores:
            staged = self.state.staged.get(store)
            live_len = len(self.state.live.get(store, b"")) if store != Store.KEY else int(self.state.live_key is not None)
            stores.append(StoreStatus(store, live_len, staged.total if staged else 0, staged.received if staged else 0,
                                      staged.xfer if staged else 0, bool(staged and staged.complete)))
        pending = self.state.pending_key.alg if self.state.pending_key else 0
        return StatusInfo(self._flags(), pending, tuple(stores)).encode()

    def _keygen(self, body: bytes, keepalive) -> bytes:
        req = KeygenRequest.decode(body)
        if not self.config.keygen:
            raise Refused(Result.NOT_SUPPORTED)
        self._locked()
        if req.alg not in self.config.algorithms:
            raise Refused(Result.UNSUPPORTED_ALGORITHM)
        attrs = []
        for code, value in req.subject:
            if code not in _OIDS or not SUBJECT_LIMITS[SubjectAttr(code)][0] <= len(value) <= SUBJECT_LIMITS[SubjectAttr(code)][1]:
                raise Refused(Result.BAD_REQUEST)
            try:
                attrs.append(x509.NameAttribute(_OIDS[SubjectAttr(code)], value))
            except ValueError:
                raise Refused(Result.BAD_REQUEST) from None
        if not any(code == SubjectAttr.CN for code, _ in req.subject):
            raise Refused(Result.BAD_REQUEST)
        pending = self.state.pending_key
        if req.flags & KEYGEN_REUSE and pending is not None and pending.alg == req.alg:
            key = self.store.open_key(pending)
        else:
            key = self._slow(lambda: generate_key(KeySpec.parse(ALG_NAMES[Alg(req.alg)])), keepalive)
            self.state.pending_key = self.store.seal_key(req.alg, key)
            self._flash()
            self.store.save(point="keygen")
        csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs)).sign(key, hashes.SHA256())
        return KeygenResponse(req.alg, csr.public_bytes(serialization.Encoding.DER)).encode()

    def _begin(self, body: bytes, keepalive) -> bytes:
        req = BeginRequest.decode(body)
        self._locked()
        if req.store not in self.config.capacities:
            raise Refused(Result.UNKNOWN_STORE)
        if req.store == Store.KEY and not self.config.key_import:
            raise Refused(Result.NOT_WRITABLE)
        if req.xfer == 0 or req.total == 0:
            raise Refused(Result.BAD_REQUEST)
        if req.total > self.config.capacities[req.store]:
            raise Refused(Result.TOO_LARGE)
        for other, staged in self.state.staged.items():
            if other != req.store and staged.xfer == req.xfer:
                staged.xfer = 0  # the id now names the new transfer
        current = self.state.staged.get(req.store)
        if current is not None and not req.flags & BEGIN_RESTART and (current.total, current.sha256) == (req.total, req.sha256):
            current.xfer = req.xfer
            self.store.save(point="begin")
            return encode_received(current.total if current.complete else current.received)
        self._discard_staged(req.store)
        self.state.staged[req.store] = Staged(req.xfer, req.total, req.sha256)
        self.store.save(point="begin")
        return encode_received(0)

    def _discard_staged(self, store: int) -> None:
        self.state.staged.pop(store, None)
        self.store.drop_staged(store)
        if store == Store.KEY:
            self.staged_key_data = bytearray()
            self.staged_key_obj = None

    def _write(self, body: bytes, keepalive) -> bytes:
        req = WriteRequest.decode(body)
        self._locked()
        found = [(s, st) for s, st in self.state.staged.items() if st.xfer == req.xfer and req.xfer != 0]
        if not found:
            raise Refused(Result.NO_TRANSFER)
        store, staged = found[0]
        end = req.offset + len(req.data)
        if end > staged.total:
            raise Refused(Result.OUT_OF_RANGE, encode_received(staged.received))
        if staged.complete:
            return encode_received(staged.total)
        if req.offset > staged.received:
            raise Refused(Result.OFFSET_GAP, encode_received(staged.received))
        self._flash()
        if store == Store.KEY:
            self.staged_key_data[req.offset:end] = req.data
        else:
            self.store.write_staged(store, req.offset, req.data)
        staged.received = max(staged.received, end)
        if staged.received < staged.total:
            return encode_received(staged.received)
        self._complete(store, staged)
        return encode_received(staged.total)

    def _complete(self, store: int, staged: Staged) -> None:
        """The last byte arrived: check digest and content before calling it staged."""
        data = bytes(self.staged_key_data) if store == Store.KEY else self.store.read_staged(store, staged.total)
        if hashlib.sha256(data).digest() != staged.sha256:
            self._discard_staged(store)
            self.store.save(point="staged")
            raise Refused(Result.HASH_MISMATCH, encode_received(0))
        try:
            if store == Store.KEY:
                # Checked now, sealed (encrypted to flash) only by COMMIT: until then the
                # staged key lives in RAM, and a restart means sending it again.
                # The full RSA consistency check costs tens of milliseconds; COMMIT checks the
                # key against the leaf certificate anyway.
                key = serialization.load_der_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
                self.staged_key_obj = (_alg_of(key_spec_of(key)), key)  # type: ignore[arg-type]
                self.staged_key_data = bytearray()
            else:
                certs = parse_canonical_certificates(data)
                if store == Store.CHAIN:
                    for child, parent in zip(certs, certs[1:]):
                        if child.issuer != parent.subject:
                            raise ValueError("chain out of order")
        except Exception:  # noqa: BLE001 - any unreadable content is BAD_FORMAT to the host
            self._discard_staged(store)
            self.store.save(point="staged")
            raise Refused(Result.BAD_FORMAT, encode_received(0)) from None
        staged.complete = True
        self.store.save(point="staged")

    def _commit(self, body: bytes, keepalive) -> bytes:
        if len(body) != 1:
            raise Refused(Result.BAD_REQUEST)
        self._locked()
        state = self.state
        for store, staged in state.staged.items():
            if not staged.complete:
                raise Refused(Result.INCOMPLETE, bytes([store]))
        if not state.staged:
            raise Refused(Result.NOTHING_STAGED)
        new = State(dict(state.live), state.live_key, state.pending_key, {}, state.lock_secret)
        if Store.TRUST in state.staged:
            new.live[Store.TRUST] = self.store.read_staged(Store.TRUST, state.staged[Store.TRUST].total)
        imported = None
        if Store.KEY in state.staged and self.staged_key_obj is not None:
            imported = self.store.seal_key(*self.staged_key_obj)
        if Store.CHAIN in state.staged:
            chain = self.store.read_staged(Store.CHAIN, state.staged[Store.CHAIN].total)
            leaf_key = key_hash(x509.load_pem_x509_certificate(chain).public_key())
            # The leaf must belong to the imported key if one is staged; otherwise to the
            # key made by KEYGEN (which then becomes live) or to the key already live.
            candidates = [imported] if imported is not None else [k for k in (state.pending_key, state.live_key) if k]
            if not candidates:
                raise Refused(Result.NO_KEY)
            matching = [k for k in candidates if hashlib.sha256(k.spki).digest() == leaf_key]
            if not matching:
                raise Refused(Result.KEY_CERT_MISMATCH)
            key = matching[0]
            if key is state.pending_key:
                new.pending_key = None
            new.live[Store.CHAIN] = chain
            new.live_key = key
        elif imported is not None:
            raise Refused(Result.KEY_CERT_MISMATCH)  # a key without its certificate
        self._flash()
        self._slow(lambda: self.store.save(new, point="commit"), keepalive)
        for store in state.staged:
            self.store.drop_staged(store)
        self.staged_key_obj = None
        self._live_key_cache = None
        return CommitResponse(tuple(sorted(state.staged))).encode()

    def _abort(self, body: bytes, keepalive) -> bytes:
        if len(body) != 1:
            raise Refused(Result.BAD_REQUEST)
        for store in list(self.state.staged):
            self._discard_staged(store)
        if body[0] & ABORT_DISCARD_KEY:
            self.state.pending_key = None
        self.store.save(point="abort")
        return b""

    def _hash(self, body: bytes, keepalive) -> bytes:
        if len(body) != 1:
            raise Refused(Result.BAD_REQUEST)
        out = []
        staged_view = body[0] & HASH_STAGED
        for store in (Store.TRUST, Store.CHAIN, Store.KEY):
            if store == Store.KEY:
                if staged_view and self.staged_key_obj is not None:
                    spki = public_key_bytes(self.staged_key_obj[1])
                elif staged_view:
                    spki = self.state.pending_key.spki if self.state.pending_key else None
                else:
                    spki = self.state.live_key.spki if self.state.live_key else None
                out.append(StoreHash(store, spki is not None, hashlib.sha256(spki).digest() if spki else b""))
                continue
            if staged_view:
                staged = self.state.staged.get(store)
                data = self.store.read_staged(store, staged.total) if staged and staged.complete else None
            else:
                data = self.state.live.get(store)
            out.append(StoreHash(store, data is not None, hashlib.sha256(data).digest() if data is not None else b""))
        return encode_hashes(out)

    def _live_key(self) -> PrivateKey:
        if self.state.live_key is None:
            raise Refused(Result.NO_KEY)
        if self._live_key_cache is None:
            self._live_key_cache = self.store.open_key(self.state.live_key)
        return self._live_key_cache

    def _sign(self, body: bytes, keepalive) -> bytes:
        if not MIN_NONCE <= len(body) <= MAX_NONCE:
            raise Refused(Result.BAD_REQUEST)
        key = self._live_key()
        message = SIGN_CONTEXT + body
        if isinstance(key, ec.EllipticCurvePrivateKey):
            signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
        else:
            assert isinstance(key, rsa.RSAPrivateKey)
            signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return SignResponse(self.state.live_key.alg, signature).encode()  # type: ignore[union-attr]

    def _register(self, body: bytes, keepalive) -> bytes:
        req = RegisterRequest.decode(body)
        if self.config.register_handler is None:
            raise Refused(Result.NOT_SUPPORTED)
        if not req.id_scope:
            raise Refused(Result.BAD_REQUEST)
        chain_pem = self.state.live.get(Store.CHAIN)
        if chain_pem is None:
            raise Refused(Result.NO_KEY)
        key = self._live_key()
        certs = parse_canonical_certificates(chain_pem)
        handler = self.config.register_handler
        if getattr(handler, "takes_trust_store", False):
            trust_pem = self.state.live.get(Store.TRUST)
            trust = parse_canonical_certificates(trust_pem) if trust_pem else []
            answer = self._slow(lambda: handler(req, certs, key, trust=trust), keepalive)
        else:
            answer = self._slow(lambda: handler(req, certs, key), keepalive)
        assert isinstance(answer, RegisterResponse)
        return answer.encode()

    def _wipe(self, body: bytes, keepalive) -> bytes:
        if len(body) != 4 or int.from_bytes(body, "big") != WIPE_MAGIC:
            raise Refused(Result.BAD_REQUEST)
        self._locked()
        self._flash()
        self.store.save(State(), point="wipe")
        self.store.wipe_files()
        self.staged_key_data = bytearray()
        self._live_key_cache = None
        return b""

    def _lock(self, body: bytes, keepalive) -> bytes:
        if not self.config.lock:
            raise Refused(Result.NOT_SUPPORTED)
        if len(body) != LOCK_SECRET_SIZE:
            raise Refused(Result.BAD_REQUEST)
        self._locked()
        self.state.lock_secret = self.store.seal_secret(body)
        self.store.save(point="lock")
        return b""

    def _unlock_challenge(self, body: bytes, keepalive) -> bytes:
        if not self.config.lock:
            raise Refused(Result.NOT_SUPPORTED)
        if self.state.lock_secret is None:
            raise Refused(Result.NOT_LOCKED)
        self.challenge = os.urandom(UNLOCK_CHALLENGE_SIZE)
        return self.challenge

    def _unlock(self, body: bytes, keepalive) -> bytes:
        if not self.config.lock:
            raise Refused(Result.NOT_SUPPORTED)
        if self.state.lock_secret is None:
            raise Refused(Result.NOT_LOCKED)
        if len(body) != SHA256_SIZE:
            raise Refused(Result.BAD_REQUEST)
        challenge, self.challenge = self.challenge, None  # one attempt per challenge
        if challenge is None:
            raise Refused(Result.AUTH_FAILED)
        secret = self.store.open_secret(self.state.lock_secret)
        if not hmac.compare_digest(hmac.new(secret, challenge, hashlib.sha256).digest(), body):
            raise Refused(Result.AUTH_FAILED)
        self.state.lock_secret = None
        self.store.save(point="unlock")
        return b""


def _alg_of(spec: KeySpec) -> int:
    from certbench.core.instrument.protocol import ALG_BY_NAME

    code = ALG_BY_NAME.get(str(spec))
    if code is None:
        raise ValueError("unsupported key")
    return int(code)


__all__ = ["Device", "DeviceConfig", "RegisterHandler", "StoredKey"]
