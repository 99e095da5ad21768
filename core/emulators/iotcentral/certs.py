"""The certificate checks the IoT Central emulator makes, as the service makes them: an
uploaded signing certificate must be one CA certificate, in date, sent as base64 of its PEM
text; a verification certificate must carry the current code as its CN, be signed by the
entry's CA key and be within its validity."""

from __future__ import annotations

import base64
import binascii
import datetime as dt

from cryptography import x509

from certbench.core.x509.chain import verify_signed_by
from certbench.core.x509.inspect import common_name, sha1_thumbprint

_BEGIN = "-----BEGIN CERTIFICATE-----"


class CertificateRejected(Exception):
    """Why a certificate in a request body was refused (a sentence for the error body)."""


def decode_certificate(value: object, field: str = "certificate") -> x509.Certificate:
    """Base64 of PEM text -> one certificate. Raw PEM and base64 DER are refused on
    purpose: the contract leaves them unverified, so the emulator holds clients to the
    documented form."""
    if not isinstance(value, str) or not value.strip():
        raise CertificateRejected(f"The '{field}' field is required and must be a base64 string.")
    if value.lstrip().startswith("-----BEGIN"):
        raise CertificateRejected(f"The '{field}' field must be base64 of the PEM file, not the PEM text itself.")
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CertificateRejected(f"The '{field}' field is not valid base64.") from None
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise CertificateRejected(
            f"The '{field}' field does not hold a PEM certificate (base64 of DER is not accepted; send base64 of the PEM file)."
        ) from None
    if text.count(_BEGIN) != 1:
        found = text.count(_BEGIN)
        raise CertificateRejected(
            f"The '{field}' field must hold exactly one PEM certificate; it holds {found}."
        )
    try:
        return x509.load_pem_x509_certificate(text.encode("ascii"))
    except ValueError:
        raise CertificateRejected(f"The '{field}' field holds a PEM block that is not a valid X.509 certificate.") from None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def check_signing_certificate(cert: x509.Certificate, now: dt.datetime | None = None) -> None:
    now = now or _now()
    # Deliberately not certbench.core.x509.inspect.is_ca: the emulator stands in for the
    # service and must judge on its own, so a mistake in the client's check cannot hide here.
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = constraints.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise CertificateRejected(
            "The certificate is not a CA certificate (basicConstraints CA:TRUE is required for an enrollment group)."
        )
    if now > cert.not_valid_after_utc:
        raise CertificateRejected(f"The certificate expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC.")
    if now < cert.not_valid_before_utc:
        raise CertificateRejected(f"The certificate is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC.")


def check_verification_certificate(
    verification: x509.Certificate, ca: x509.Certificate, code: str, now: dt.datetime | None = None
) -> None:
    now = now or _now()
    cn = common_name(verification.subject)
    if cn != code:
        raise CertificateRejected(
            f"The verification certificate's subject CN '{cn}' does not match the verification code."
        )
    if not verify_signed_by(verification, ca):
        raise CertificateRejected(
            "The verification certificate was not signed by the private key of the uploaded CA certificate "
            f"(thumbprint {sha1_thumbprint(ca)})."
        )
    if now > verification.not_valid_after_utc:
        raise CertificateRejected(
            f"The verification certificate expired on {verification.not_valid_after_utc:%Y-%m-%d %H:%M} UTC."
        )
    if now < verification.not_valid_before_utc:
        raise CertificateRejected(
            f"The verification certificate is not valid before {verification.not_valid_before_utc:%Y-%m-%d %H:%M} UTC."
        )
