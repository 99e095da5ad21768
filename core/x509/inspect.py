"""What a technician (and the CLI, GUI, registry) needs to know about one certificate, in
one flat, JSON-friendly summary; and the plain-language warnings for a would-be intermediate."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# IoT Central and the bench warn about intermediates this close to expiry.
EXPIRY_WARNING_DAYS = 90

_KEY_USAGE_NAMES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)
_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}
_CURVES = {"secp256r1": ("ec-p256", "EC P-256"), "secp384r1": ("ec-p384", "EC P-384"),
           "secp521r1": ("ec-p521", "EC P-521")}


@dataclass
class CertSummary:
    subject: str
    issuer: str
    common_name: str | None
    issuer_common_name: str | None
    serial_hex: str
    not_before: datetime
    not_after: datetime
    key: str
    key_description: str
    sha256_fingerprint: str
    sha1_thumbprint: str
    is_ca: bool
    path_length: int | None
    key_usage: list[str] = field(default_factory=list)
    extended_key_usage: list[str] = field(default_factory=list)
    subject_key_identifier: str | None = None
    authority_key_identifier: str | None = None
    self_signed: bool = False
    expired: bool = False
    not_yet_valid: bool = False
    days_left: int = 0
    # Additions beyond the core fields: useful on screen, harmless for scripts.
    signature_algorithm: str = ""
    has_basic_constraints: bool = False
    subject_alt_names: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        for name in ("not_before", "not_after"):
            data[name] = getattr(self, name).isoformat().replace("+00:00", "Z")
        return data


def common_name(name: x509.Name) -> str | None:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def display_name(cert: x509.Certificate) -> str:
    """How messages name a certificate: its CN, or the whole subject if it has none."""
    return common_name(cert.subject) or cert.subject.rfc4514_string() or f"serial {cert.serial_number:X}"


def _colon_hex(data: bytes) -> str:
    return ":".join(f"{b:02X}" for b in data)


def sha256_fingerprint(cert: x509.Certificate) -> str:
    """Upper-case hex with colons, as openssl and Windows print it."""
    return _colon_hex(cert.fingerprint(hashes.SHA256()))


def sha1_thumbprint(cert: x509.Certificate) -> str:
    """Upper-case hex without separators: the form IoT Central shows (`sha1Thumbprint`)."""
    return cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - an identifier, not security


def describe_public_key(public_key: object) -> tuple[str, str]:
    """(KeySpec-style string, human description), e.g. ("ec-p256", "EC P-256")."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        name = public_key.curve.name
        return _CURVES.get(name, (f"ec-{name}", f"EC {name}"))
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"rsa-{public_key.key_size}", f"RSA {public_key.key_size}"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "ed25519", "Ed25519"
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "ed448", "Ed448"
    return "unknown", type(public_key).__name__


def _key_of(cert: x509.Certificate) -> tuple[str, str]:
    try:
        return describe_public_key(cert.public_key())
    except Exception:  # unsupported algorithm: still summarise the rest
        return "unknown", f"unsupported ({cert.public_key_algorithm_oid.dotted_string})"


def _extension(cert: x509.Certificate, kind: type) -> object | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def is_ca(cert: x509.Certificate) -> bool:
    """Whether the certificate says it is a CA: a basicConstraints extension with CA:TRUE.
    Without the extension it is not one (RFC 5280 4.2.1.9; OpenSSL and IoT Central agree).
    keyUsage and path length are judged separately (`warnings_for_intermediate`, chain
    validation), so a caller can tell the technician which of them is wrong."""
    constraints = _extension(cert, x509.BasicConstraints)
    return bool(constraints is not None and constraints.ca)


def key_usage_names(cert: x509.Certificate) -> list[str] | None:
    """Key usages in RFC 5280 camelCase, or None when the extension is absent."""
    usage = _extension(cert, x509.KeyUsage)
    if usage is None:
        return None
    names = [_camel(n) for n in _KEY_USAGE_NAMES if getattr(usage, n)]
    if usage.key_agreement:
        names += [n for n, flag in (("encipherOnly", usage.encipher_only), ("decipherOnly", usage.decipher_only)) if flag]
    return names


def extended_key_usage_names(cert: x509.Certificate) -> list[str] | None:
    eku = _extension(cert, x509.ExtendedKeyUsage)
    if eku is None:
        return None
    return [_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku]


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    name = head + "".join(part.title() for part in rest)
    return {"keyCertSign": "keyCertSign", "crlSign": "cRLSign"}.get(name, name)


def is_self_signed(cert: x509.Certificate) -> bool:
    if cert.subject != cert.issuer:
        return False
    from certbench.core.x509.chain import verify_signed_by  # chain imports this module

    return verify_signed_by(cert, cert)


def _utc(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(timezone.utc)
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def summarize(cert: x509.Certificate, *, at: datetime | None = None) -> CertSummary:
    now = _utc(at)
    key, key_description = _key_of(cert)
    constraints = _extension(cert, x509.BasicConstraints)
    ski = _extension(cert, x509.SubjectKeyIdentifier)
    aki = _extension(cert, x509.AuthorityKeyIdentifier)
    san = _extension(cert, x509.SubjectAlternativeName)
    try:
        signature_algorithm = cert.signature_algorithm_oid._name  # noqa: SLF001 - the readable name
    except Exception:
        signature_algorithm = cert.signature_algorithm_oid.dotted_string
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    return CertSummary(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        common_name=common_name(cert.subject),
        issuer_common_name=common_name(cert.issuer),
        serial_hex=f"{cert.serial_number:X}",
        not_before=not_before,
        not_after=not_after,
        key=key,
        key_description=key_description,
        sha256_fingerprint=sha256_fingerprint(cert),
        sha1_thumbprint=sha1_thumbprint(cert),
        is_ca=bool(constraints and constraints.ca),
        path_length=constraints.path_length if constraints and constraints.ca else None,
        key_usage=key_usage_names(cert) or [],
        extended_key_usage=extended_key_usage_names(cert) or [],
        subject_key_identifier=_colon_hex(ski.digest) if ski else None,
        authority_key_identifier=_colon_hex(aki.key_identifier) if aki and aki.key_identifier else None,
        self_signed=is_self_signed(cert),
        expired=now > not_after,
        not_yet_valid=now < not_before,
        days_left=math.floor((not_after - now) / timedelta(days=1)),
        signature_algorithm=signature_algorithm,
        has_basic_constraints=constraints is not None,
        subject_alt_names=[str(v) for v in san] if san else [],
    )


def _date(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def warnings_for_intermediate(cert: x509.Certificate, at: datetime | None = None) -> list[str]:
    """Why this certificate would be a poor (or impossible) intermediate CA for device
    certificates; empty when it is fine. Plain sentences, most serious first."""
    now = _utc(at)
    name = display_name(cert)
    summary = summarize(cert, at=now)
    warnings: list[str] = []
    if not summary.has_basic_constraints:
        warnings.append(
            f"'{name}' is not a CA certificate (it has no basicConstraints extension), "
            "so it cannot sign device certificates."
        )
    elif not summary.is_ca:
        warnings.append(
            f"'{name}' is not a CA certificate (basicConstraints CA:FALSE): it is an end-entity "
            "certificate and cannot sign device certificates."
        )
    if summary.expired:
        warnings.append(f"'{name}' expired on {_date(summary.not_after)}.")
    elif summary.not_yet_valid:
        warnings.append(f"'{name}' is not valid yet: it becomes valid on {_date(summary.not_before)}.")
    elif summary.days_left < EXPIRY_WARNING_DAYS:
        warnings.append(
            f"'{name}' expires in {summary.days_left} days ({_date(summary.not_after)}); "
            "devices issued from it stop registering then. Plan its renewal."
        )
    usages = key_usage_names(cert)
    if usages is None:
        if summary.is_ca:
            warnings.append(
                f"'{name}' has no keyUsage extension; a CA should have keyCertSign, and strict "
                "verifiers reject a CA without it."
            )
    elif "keyCertSign" not in usages:
        warnings.append(
            f"'{name}' may not sign certificates: its keyUsage lacks keyCertSign "
            f"(it has: {', '.join(usages) or 'nothing'})."
        )
    ekus = extended_key_usage_names(cert)
    if ekus is not None and not {"clientAuth", "anyExtendedKeyUsage"} & set(ekus):
        warnings.append(
            f"'{name}' restricts its extended key usage to {', '.join(ekus)} without clientAuth; "
            "verifiers that chain EKUs (OpenSSL, Windows) reject device certificates issued from it."
        )
    if summary.self_signed:
        warnings.append(f"'{name}' is self-signed: it is a root CA, not an intermediate.")
    if summary.key.startswith("rsa-") and int(summary.key[4:]) < 2048:
        warnings.append(f"'{name}' has a weak {summary.key_description} key; use RSA 2048 or more, or EC.")
    if "sha1" in summary.signature_algorithm.lower() or "md5" in summary.signature_algorithm.lower():
        warnings.append(f"'{name}' is signed with the obsolete {summary.signature_algorithm} algorithm.")
    return warnings
