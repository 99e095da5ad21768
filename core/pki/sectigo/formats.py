"""SCM collect formats: what each returns and how Certbench reads it.

| format | content |
|---|---|
| x509, pem | certificate with its chain, PEM (order not guaranteed: may be root first) |
| x509R | the same chain, reversed |
| x509CO, pemco | the certificate only, PEM |
| x509IO | root and intermediate(s) only, PEM |
| x509IOR | intermediate(s) and root only, PEM |
| pemia | the certificate then its issuer, PEM |
| base64 | PKCS#7 (certificates only), PEM |
| bin | PKCS#7, DER |

No format means PKCS#7 base64; Certbench always names the format it wants.
"""

from __future__ import annotations

from cryptography import x509

from certbench.core.errors import InputError

PEM_FORMATS = ("x509", "x509R", "pem", "x509CO", "pemco", "x509IO", "x509IOR", "pemia")
PKCS7_FORMATS = ("base64", "bin")
FORMATS = PEM_FORMATS + PKCS7_FORMATS
CERT_ONLY = frozenset({"x509CO", "pemco"})
ISSUERS_ONLY = frozenset({"x509IO", "x509IOR"})


def parse_collected(data: bytes, fmt: str) -> list[x509.Certificate]:
    """The certificates in a collect body of format `fmt`; raises ValueError when the body is
    not what that format promises (an HTML page, JSON, a truncated file...)."""
    from certbench.core.x509.parse import load_certificates

    if fmt not in FORMATS:
        raise ValueError(f"unknown collect format '{fmt}'")
    if not data or not data.strip():
        raise ValueError("the body is empty")
    if fmt in PEM_FORMATS and b"-----BEGIN CERTIFICATE-----" not in data:
        raise ValueError("the body holds no PEM certificate")
    if fmt == "base64" and b"-----BEGIN PKCS7-----" not in data:
        raise ValueError("the body is not PKCS#7 PEM")
    if fmt == "bin" and not data.startswith(b"\x30"):
        raise ValueError("the body is not DER (PKCS#7)")
    try:
        certs = load_certificates(data, source=f"collect ({fmt})")
    except InputError as exc:
        raise ValueError(exc.message) from None
    if not certs:
        raise ValueError("the body holds no certificate")
    if fmt in CERT_ONLY and len(certs) != 1:
        raise ValueError(f"expected one certificate, got {len(certs)}")
    return certs
