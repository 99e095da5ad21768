"""TLS for the emulators: a throw-away CA per run that signs each emulator's server
certificate (SAN = the host name clients use), handed to clients explicitly, never trusted
system-wide.

`ssl` only loads keys from files, so a server key is written encrypted to a private
temporary file, loaded with its passphrase and deleted at once: no key is ever on disk in
clear.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets as _random
import ssl
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certbench.core.x509.keys import EC_P256, PrivateKey, encrypt_private_key, generate_key


def _pem(cert: x509.Certificate) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.PEM).decode()


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


class EmulatorCA:
    """A CA for the emulators' server certificates (and test client certificates)."""

    def __init__(self, name: str = "Certbench Emulator CA") -> None:
        now = dt.datetime.now(dt.timezone.utc)
        self._key = generate_key(EC_P256)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )

    @property
    def pem(self) -> str:
        return _pem(self.certificate)

    def write_pem(self, path: Path) -> Path:
        """The CA certificate (public) for clients in other processes."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.pem)
        return path

    def issue(
        self, common_name: str, *, hosts: Sequence[str] = (), client: bool = False
    ) -> tuple[x509.Certificate, PrivateKey]:
        now = dt.datetime.now(dt.timezone.utc)
        key = generate_key(EC_P256)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]),
                critical=False,
            )
        )
        if hosts:
            builder = builder.add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        return builder.sign(self._key, hashes.SHA256()), key

    def server_context(
        self,
        hosts: Sequence[str],
        *,
        client_cas: Iterable[x509.Certificate] = (),
        require_client_cert: bool = False,
        minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
    ) -> ssl.SSLContext:
        """A server-side context whose certificate names `hosts`. With `client_cas`, client
        certificates are requested (required when `require_client_cert`)."""
        cert, key = self.issue(hosts[0], hosts=hosts)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = minimum_version
        load_cert_chain(context, [cert, self.certificate], key)
        cas = list(client_cas)
        if cas:
            context.load_verify_locations(cadata="".join(_pem(c) for c in cas))
            context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
        return context


def load_cert_chain(context: ssl.SSLContext, chain: Sequence[x509.Certificate], key: PrivateKey) -> None:
    """Load a certificate chain and its key into `context` without the key ever touching
    the disk unencrypted."""
    passphrase = _random.token_urlsafe(24)
    directory = tempfile.mkdtemp(prefix="certbench-tls-")
    cert_path = os.path.join(directory, "chain.pem")
    key_path = os.path.join(directory, "key.pem")
    try:
        with open(cert_path, "w", encoding="ascii") as handle:
            handle.write("".join(_pem(c) for c in chain))
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(encrypt_private_key(key, passphrase.encode()))
        context.load_cert_chain(cert_path, key_path, password=passphrase)
    finally:
        for path in (key_path, cert_path):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        os.rmdir(directory)
