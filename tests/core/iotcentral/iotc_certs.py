"""Odd certificates for refusal tests, made with `cryptography` directly or the local CA."""

from __future__ import annotations

import base64
import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from certbench.core.x509.keys import generate_key

NOW = dt.datetime.now(dt.timezone.utc)


def ca_certificate(cn: str = "Odd CA", *, days_ago_start: int = 10, days_valid: int = 3650, ca: bool = True):
    key = generate_key("ec-p256")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    start = NOW - dt.timedelta(days=days_ago_start)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days_valid))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def expired_ca():
    return ca_certificate("Expired CA", days_ago_start=400, days_valid=30)


def leaf(local_ca, intermediate: str, cn: str, *, expired: bool = False):
    key = generate_key("ec-p256")
    kwargs = {}
    if expired:
        kwargs = {"not_before": NOW - dt.timedelta(days=30), "not_after": NOW - dt.timedelta(days=1)}
    return local_ca.sign_leaf(intermediate, key.public_key(), cn, **kwargs)


def b64pem(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(Encoding.PEM)).decode()
