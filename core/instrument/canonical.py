"""The canonical form of each credential store, which is what goes over the wire and what
HASH is computed over (docs/instrument-protocol.md, "Stores and their canonical form").

Certificates: PEM blocks `-----BEGIN CERTIFICATE-----`, base64 in lines of 64 characters,
`-----END CERTIFICATE-----`, every line ending in a single LF, nothing before, between or
after the blocks. Line endings are fixed because nRF Cloud's tools showed what happens when
they are not: the same certificate hashes differently on the bench and on the device.

Key: PKCS#8 DER of the private key on the wire; its HASH is the SHA-256 of the public key's
SubjectPublicKeyInfo DER, so the host can compare it with the leaf certificate's key and no
digest of secret material ever leaves the instrument.
"""

from __future__ import annotations

import hashlib
import re

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certbench.core.x509.keys import PrivateKey, PublicKey, public_key_bytes

_PEM_CERT = re.compile(
    rb"-----BEGIN CERTIFICATE-----\n(?:[A-Za-z0-9+/]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n"
)


def canonical_certificates(certs: list[x509.Certificate]) -> bytes:
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs)


def parse_canonical_certificates(data: bytes) -> list[x509.Certificate]:
    """The certificates of a store in canonical form; ValueError for anything else (CRLF,
    text between blocks, a non-certificate block, bad DER)."""
    pos = 0
    certs = []
    while pos < len(data):
        m = _PEM_CERT.match(data, pos)
        if not m:
            raise ValueError(f"not a canonical PEM certificate at byte {pos}")
        certs.append(x509.load_pem_x509_certificate(m.group(0)))
        pos = m.end()
    if not certs:
        raise ValueError("no certificate")
    if canonical_certificates(certs) != data:
        raise ValueError("certificate PEM is not in canonical form")
    return certs


def key_store_bytes(key: PrivateKey) -> bytes:
    """PKCS#8 DER, the wire form of the KEY store: goes to the instrument, never to disk."""
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def key_hash(key: PrivateKey | PublicKey) -> bytes:
    return hashlib.sha256(public_key_bytes(key)).digest()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
