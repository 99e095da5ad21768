"""The embedded local CA: a root and the configured intermediates, made on first use.

It serves demo mode, tests and labs; production issues through Sectigo, whose intermediate
keys never leave Sectigo. Here the CA keys sit in the data directory encrypted (PKCS#8) with a
random passphrase held in the OS keyring, and are decrypted once per process.

Orders complete at once; the issued certificates (public data) are kept so that `collect`
behaves like a real PKI's and revocations can be recorded.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certbench.core import paths, secrets
from certbench.core.errors import InputError, SecretStoreError
from certbench.core.pki.base import IntermediateInfo, IssuedCertificate, Issuer, OrderPending
from certbench.core.x509.csr import check_csr_signature, csr_common_name
from certbench.core.x509.keys import (
    EC_P256,
    EC_P384,
    PrivateKey,
    encrypt_private_key,
    generate_key,
    load_encrypted_private_key,
)
from certbench.core.x509.parse import load_certificate, to_pem

DEFAULT_INTERMEDIATES = tuple(f"medicorp-ica-{i}" for i in range(1, 5))
ROOT_NAME = "root"
_CLOCK_SKEW = dt.timedelta(minutes=5)
_create_lock = threading.Lock()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MediCorp (local CA)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_certificate(
    subject: x509.Name,
    key: PrivateKey,
    issuer: x509.Name,
    issuer_key: PrivateKey,
    *,
    days: int,
    path_length: int | None,
) -> x509.Certificate:
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer_key is not key:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA384() if issuer_key.key_size >= 384 else hashes.SHA256())


class LocalCA(Issuer):
    """Root + named intermediates in `directory` (default: data_dir()/local-ca)."""

    kind = "local"

    def __init__(
        self,
        directory: Path | None = None,
        intermediate_names: Sequence[str] = DEFAULT_INTERMEDIATES,
        *,
        display_names: dict[str, str] | None = None,
        leaf_validity_days: int = 3650,
    ) -> None:
        if not intermediate_names:
            raise InputError("The local CA needs at least one intermediate name.")
        self.directory = Path(directory) if directory else paths.data_dir() / "local-ca"
        self._names = list(intermediate_names)
        self._display = display_names or {}
        self.leaf_validity_days = leaf_validity_days
        self._keys: dict[str, PrivateKey] = {}
        self._certs: dict[str, x509.Certificate] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> LocalCA:  # settings: certbench.core.config.Settings
        local = [i for i in settings.intermediates if i.source == "local"]
        return cls(
            intermediate_names=[i.name for i in local] or DEFAULT_INTERMEDIATES,
            display_names={i.name: i.display_name for i in local if i.display_name},
            leaf_validity_days=settings.bench.leaf_validity_days,
        )

    # -- creation ------------------------------------------------------------------------
    @property
    def exists(self) -> bool:
        return (self.directory / "root.pem").is_file()

    def ensure(self) -> LocalCA:
        """Create the root and any missing intermediate; idempotent and safe when several
        processes start at once (the folder appears by an atomic rename)."""
        with _create_lock:
            if not self.exists:
                self._create_root()
            missing = [n for n in self._names if not (self.directory / f"{n}.pem").is_file()]
            for name in missing:
                self._create_intermediate(name)
        return self

    def _passphrase(self) -> bytes:
        """The passphrase of an existing CA's keys. Never made up here: a new one could not
        open the keys, and would overwrite nothing but still leave a stray keyring entry."""
        value = secrets.get_secret(secrets.LOCAL_CA_PASSPHRASE)
        if not value:
            raise SecretStoreError(
                f"The local CA in {self.directory} exists, but its key passphrase is not in this "
                "user's OS keyring (the CA was made by another user or machine, or the keyring was cleared).",
                "Sign in as the user who created it. Otherwise move that folder aside and run "
                "'certbench ca local init' for a new local CA (verify its intermediates in IoT Central again).",
            )
        return value.encode()

    def _create_root(self) -> None:
        passphrase = secrets.get_or_create_secret(secrets.LOCAL_CA_PASSPHRASE).encode()
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".local-ca-", dir=self.directory.parent))
        try:
            key = generate_key(EC_P384)
            name = _name("MediCorp Local Root CA")
            cert = _ca_certificate(name, key, name, key, days=365 * 25, path_length=1)
            (staging / "root.pem").write_text(to_pem([cert]))
            (staging / "root.key.pem").write_bytes(encrypt_private_key(key, passphrase))
            try:
                os.rename(staging, self.directory)
            except OSError:
                if not self.exists:  # not "someone else won the race": a real failure
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _create_intermediate(self, name: str) -> None:
        root_key = self._key(ROOT_NAME)
        root = self._cert(ROOT_NAME)
        key = generate_key(EC_P256)
        display = self._display.get(name) or name
        cert = _ca_certificate(_name(display), key, root.subject, root_key, days=365 * 15, path_length=0)
        self._write_atomic(f"{name}.key.pem", encrypt_private_key(key, self._passphrase()))
        self._write_atomic(f"{name}.pem", to_pem([cert]).encode())

    def _write_atomic(self, filename: str, data: bytes) -> None:
        target = self.directory / filename
        tmp = target.parent / f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, target)

    # -- loading -------------------------------------------------------------------------
    def _cert(self, name: str) -> x509.Certificate:
        if name not in self._certs:
            path = self.directory / f"{name}.pem"
            if not path.is_file():
                self.ensure()
            self._certs[name] = load_certificate(path.read_bytes(), source=str(path))
        return self._certs[name]

    def _key(self, name: str) -> PrivateKey:
        with self._lock:
            if name not in self._keys:
                path = self.directory / f"{name}.key.pem"
                try:
                    data = path.read_bytes()
                except OSError as exc:
                    raise InputError(
                        f"The local CA in {self.directory} cannot read {path.name} ({exc.strerror or exc}).",
                        "Restore the folder from its backup, or move it aside and run 'certbench ca local init' "
                        "for a new local CA.",
                    ) from None
                try:
                    self._keys[name] = load_encrypted_private_key(data, self._passphrase())
                except InputError:
                    raise InputError(
                        f"The local CA's key {path} does not open with the passphrase in the OS keyring: "
                        "the file is damaged or belongs to another CA.",
                        "Restore the folder from its backup, or move it aside and run 'certbench ca local init' "
                        "for a new local CA.",
                    ) from None
            return self._keys[name]

    def _check_name(self, name: str) -> None:
        if name not in self._names:
            raise InputError(
                f"The local CA has no intermediate named '{name}'.",
                f"Known intermediates: {', '.join(self._names)}.",
            )

    @property
    def root_certificate(self) -> x509.Certificate:
        self.ensure()
        return self._cert(ROOT_NAME)

    # -- Issuer --------------------------------------------------------------------------
    def intermediate_names(self) -> list[str]:
        return list(self._names)

    def intermediate(self, name: str) -> IntermediateInfo:
        self._check_name(name)
        self.ensure()
        return IntermediateInfo(name, self._cert(name), (self._cert(ROOT_NAME),), source="local")

    def order(self, intermediate: str, csr: x509.CertificateSigningRequest, *, comment: str = "") -> str:
        self._check_name(intermediate)
        check_csr_signature(csr)
        cn = csr_common_name(csr)
        if not cn:
            raise InputError("The certificate request has no common name (CN).", "Make the CSR with the unit's CN.")
        cert = self.sign_leaf(intermediate, csr.public_key(), cn)
        order_id = f"local-{cert.serial_number:x}"
        orders = self.directory / "orders"
        orders.mkdir(exist_ok=True)
        meta = {"intermediate": intermediate, "comment": comment, "created": _now().isoformat()}
        self._write_atomic(f"orders/{order_id}.json", json.dumps(meta).encode())
        self._write_atomic(f"orders/{order_id}.pem", to_pem([cert]).encode())
        return order_id

    def sign_leaf(
        self,
        intermediate: str,
        public_key,
        common_name: str,
        *,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> x509.Certificate:
        """A client-authentication leaf: digitalSignature (+ keyEncipherment for RSA),
        EKU clientAuth, SKI/AKI, CA:false."""
        self._check_name(intermediate)
        issuer_cert = self._cert(intermediate)
        issuer_key = self._key(intermediate)
        now = _now()
        is_rsa = isinstance(public_key, rsa.RSAPublicKey)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(issuer_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - _CLOCK_SKEW)
            .not_valid_after(not_after or now + dt.timedelta(days=self.leaf_validity_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=is_rsa,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
            )
        )
        return builder.sign(issuer_key, hashes.SHA256())

    def _order_paths(self, order_id: str) -> tuple[Path, Path]:
        if not order_id.startswith("local-") or not all(c in "0123456789abcdef" for c in order_id[6:]):
            raise InputError(f"'{order_id}' is not an order id of the local CA.")
        base = self.directory / "orders" / order_id
        return base.with_suffix(".json"), base.with_suffix(".pem")

    def collect(self, intermediate: str, order_id: str, *, wait: bool = True) -> IssuedCertificate:
        meta_path, pem_path = self._order_paths(order_id)
        if not meta_path.is_file():
            raise InputError(f"The local CA has no order '{order_id}'.", "Check the order id in the unit's history.")
        meta = json.loads(meta_path.read_text())
        if meta.get("revoked"):
            raise InputError(f"Order {order_id} was revoked; its certificate cannot be collected.")
        if meta["intermediate"] != intermediate:
            raise InputError(
                f"Order {order_id} was placed with intermediate '{meta['intermediate']}', not '{intermediate}'."
            )
        if not pem_path.is_file():
            raise OrderPending(order_id)
        leaf = load_certificate(pem_path.read_bytes(), source=order_id)
        return IssuedCertificate(leaf, intermediate, order_id, (leaf, self._cert(intermediate)))

    def revoke(self, order_id: str, reason: str = "superseded") -> None:
        meta_path, _ = self._order_paths(order_id)
        if not meta_path.is_file():
            raise InputError(f"The local CA has no order '{order_id}'.")
        meta = json.loads(meta_path.read_text())
        meta.update(revoked=True, revoked_at=_now().isoformat(), reason=reason)
        self._write_atomic(f"orders/{order_id}.json", json.dumps(meta).encode())

    def is_revoked(self, order_id: str) -> bool:
        meta_path, _ = self._order_paths(order_id)
        return meta_path.is_file() and bool(json.loads(meta_path.read_text()).get("revoked"))
