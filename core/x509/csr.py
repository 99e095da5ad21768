"""Certificate signing requests: building one for a unit's key, reading one back, and
checking that it was signed by the key it carries (proof that the requester holds the key)."""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from certbench.core.errors import InputError
from certbench.core.x509.keys import PrivateKey, key_spec_of
from certbench.core.x509.encoding import b64decode_lenient, decode_text_bom, der_length


class CsrError(InputError):
    """A certificate signing request is unreadable, unsuitable or not self-consistent."""


# Short names a technician or a settings file may use for extra subject attributes.
_ATTRIBUTES: dict[str, x509.ObjectIdentifier] = {
    "CN": NameOID.COMMON_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "SERIALNUMBER": NameOID.SERIAL_NUMBER,
    "EMAILADDRESS": NameOID.EMAIL_ADDRESS,
    "DC": NameOID.DOMAIN_COMPONENT,
    "TITLE": NameOID.TITLE,
}
_LONG_NAMES = {
    "ORGANIZATIONNAME": "O",
    "ORGANIZATIONALUNITNAME": "OU",
    "COUNTRYNAME": "C",
    "STATEORPROVINCENAME": "ST",
    "LOCALITYNAME": "L",
    "COMMONNAME": "CN",
}
_CSR_BEGIN = re.compile(rb"-----BEGIN (NEW )?CERTIFICATE REQUEST-----")


def _attribute_oid(name: str) -> x509.ObjectIdentifier:
    key = re.sub(r"[\s_-]", "", name).upper()
    key = _LONG_NAMES.get(key, key)
    if key in _ATTRIBUTES:
        return _ATTRIBUTES[key]
    if re.fullmatch(r"\d+(\.\d+)+", name.strip()):
        return x509.ObjectIdentifier(name.strip())
    raise CsrError(
        f"Unknown subject attribute '{name}'.",
        "Use one of CN, O, OU, C, ST, L, serialNumber, emailAddress, DC, title, or a dotted OID.",
    )


def build_csr(
    key: PrivateKey, common_name: str, *, extra: dict[str, str] | None = None
) -> x509.CertificateSigningRequest:
    """A CSR with subject CN=`common_name` (+ `extra` attributes), signed with SHA-256."""
    key_spec_of(key)  # unsupported key types fail here with a clear message
    attributes: list[x509.NameAttribute] = []
    for name, value in (extra or {}).items():
        oid = _attribute_oid(name)
        if oid == NameOID.COMMON_NAME:
            raise CsrError("The common name is given twice (as the name and in the extra attributes).",
                           "Give the common name only once.")
        attributes.append(_attribute(oid, name, value))
    attributes.append(_attribute(NameOID.COMMON_NAME, "CN", common_name))
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attributes))
    return builder.sign(key, hashes.SHA256())


def _attribute(oid: x509.ObjectIdentifier, name: str, value: str) -> x509.NameAttribute:
    if not isinstance(value, str) or not value:
        raise CsrError(f"The subject attribute {name} is empty.", f"Give a value for {name} or leave it out.")
    try:
        return x509.NameAttribute(oid, value)
    except ValueError as exc:
        # e.g. CN longer than 64 characters, country code not two letters
        raise CsrError(f"The subject attribute {name}='{value[:80]}' is not allowed: {exc}.",
                       "Shorten or correct the value.") from None


def load_csr(data: bytes | str, *, source: str = "input") -> x509.CertificateSigningRequest:
    """A CSR from PEM (CRLF, stray whitespace, text around it tolerated), DER, or bare base64."""
    raw = decode_text_bom(data.encode("utf-8", errors="replace") if isinstance(data, str) else bytes(data))
    if not raw.strip():
        raise CsrError(f"{source}: is empty.", "Choose the certificate signing request (.csr) file.")
    match = _CSR_BEGIN.search(raw)
    if match:
        label = b"NEW CERTIFICATE REQUEST" if match.group(1) else b"CERTIFICATE REQUEST"
        end = raw.find(b"-----END " + label + b"-----", match.end())
        if end < 0:
            raise CsrError(f"{source}: the certificate request has no END line: the file is truncated.",
                           "Copy the request again.")
        body = raw[match.end():end].replace(b"\\r", b"\n").replace(b"\\n", b"\n")
        body = re.sub(rb"\s+", b"", body)
        if not re.fullmatch(rb"[A-Za-z0-9+/]+={0,2}", body) or len(body) % 4 == 1:
            raise CsrError(f"{source}: the certificate request is damaged (its text is not base64).",
                           "Copy the request again.")
        der = b64decode_lenient(body)
    elif b"-----BEGIN" in raw:
        if re.search(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----", raw):
            raise CsrError(f"{source}: contains a private key where a certificate request was expected.",
                           "Give the .csr file, not the key file; keep the key file private.")
        if b"-----BEGIN CERTIFICATE-----" in raw:
            raise CsrError(f"{source}: is a certificate, not a certificate signing request.",
                           "Give the .csr file.")
        raise CsrError(f"{source}: holds no certificate signing request.", "Choose the .csr file.")
    elif raw.lstrip()[:1] == b"\x30":
        der = raw.lstrip()
    else:
        der = b64decode_lenient(raw.strip()) if re.fullmatch(rb"[A-Za-z0-9+/=\s]+", raw.strip()) else None
        if not der:
            raise CsrError(f"{source}: holds no certificate signing request (not PEM, DER or base64).",
                           "Choose the .csr file.")
    if der is None:
        raise CsrError(f"{source}: the certificate request is damaged.", "Copy the request again.")
    total = der_length(der)
    if total is not None and total > len(der):
        raise CsrError(
            f"{source}: the certificate request is truncated ({len(der)} of {total} bytes).",
            "Copy the request again.",
        )
    if total is not None and total < len(der) and not der[total:].strip(b"\x00\r\n\t "):
        der = der[:total]
    try:
        csr = x509.load_der_x509_csr(der)
        csr.subject  # noqa: B018 - parsed lazily; damage must surface here
        csr.extensions  # noqa: B018
    except Exception as exc:
        what = _what_else(der)
        if what:
            raise CsrError(f"{source}: {what}", "Give the certificate signing request (.csr) file.") from None
        raise CsrError(
            f"{source}: is not a valid certificate signing request ({_first_line(exc)}).",
            "Copy the request again; if it came from an instrument, ask it for a new one.",
        ) from None
    return csr


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


def _what_else(der: bytes) -> str | None:
    try:
        serialization.load_der_private_key(der, password=None)
        return "contains a private key where a certificate request was expected."
    except TypeError:
        return "contains a private key where a certificate request was expected."
    except Exception:
        pass
    try:
        x509.load_der_x509_certificate(der)
        return "is a certificate, not a certificate signing request."
    except Exception:
        return None


def csr_common_name(csr: x509.CertificateSigningRequest) -> str | None:
    values = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def check_csr_signature(csr: x509.CertificateSigningRequest) -> None:
    """Raise CsrError unless the CSR is signed by the key it contains."""
    name = csr_common_name(csr)
    label = f"for '{name}'" if name else "(no common name)"
    try:
        valid = csr.is_signature_valid
    except Exception as exc:
        raise CsrError(
            f"The signature of the certificate request {label} cannot be checked ({_first_line(exc)}).",
            "Use an EC (P-256/P-384) or RSA key with a SHA-256 signature.",
        ) from None
    if not valid:
        raise CsrError(
            f"The signature of the certificate request {label} does not verify: the request was altered "
            "after signing, or was not signed by the key it contains.",
            "Do not edit certificate requests; make a new request with the unit's key.",
        )


def csr_to_pem(csr: x509.CertificateSigningRequest) -> str:
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def csr_to_der(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_bytes(serialization.Encoding.DER)
