"""Reading certificates in every form they reach the bench, and writing them back out.

Certificates arrive as PEM files (one or many, often edited on Windows: CRLF, blank lines,
a comment above the block), DER, PKCS#7 in PEM or DER (Sectigo's `base64` and `bin`
collect formats), base64 of a PEM file (IoT Central's transport) and bare base64 of DER.
`load_certificates` detects the form itself so that no caller has to ask the technician.

Every failure is a `CertificateParseError` naming the source (usually the file name); a
private key in the input is reported as such and never echoed.
"""

from __future__ import annotations

import base64
import re
import warnings
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from certbench.core.errors import InputError
from certbench.core.x509.encoding import b64decode_lenient, decode_text_bom, der_length, pkcs7_certificate_ders


class CertificateParseError(InputError):
    """The input holds no readable certificate, or a damaged one."""


_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 #._-]{1,64})-----")
_CERT_LABELS = {b"CERTIFICATE", b"X509 CERTIFICATE"}
_PKCS7_LABELS = {b"PKCS7", b"PKCS #7 SIGNED DATA", b"CERTIFICATE CHAIN"}
_CSR_LABELS = {b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST"}
_B64_CHARS = re.compile(rb"[A-Za-z0-9+/=\s]+")
# Header lines inside a PEM block (RFC 1421 "Proc-Type:" and friends) precede the base64 body.
_PEM_HEADER = re.compile(rb"^[A-Za-z-]+:.*$", re.MULTILINE)

# How many bytes of input we attempt to read at all: certificates are a few KiB, chains tens.
MAX_INPUT_BYTES = 16 * 1024 * 1024


def _err(source: str, what: str, hint: str | None = None) -> CertificateParseError:
    return CertificateParseError(f"{source}: {what}", hint)


def _as_bytes(data: bytes | str | bytearray | memoryview) -> bytes:
    if isinstance(data, str):
        # PEM and base64 are ASCII; anything else in a str cannot be part of a certificate.
        return data.encode("utf-8", errors="replace")
    return bytes(data)


def _is_private_key_label(label: bytes) -> bool:
    return label.endswith(b"PRIVATE KEY")


def load_certificates(data: bytes | str, *, source: str = "input") -> list[x509.Certificate]:
    """Every certificate in `data`, in the order they appear (see `chain.order_chain`)."""
    raw = decode_text_bom(_as_bytes(data))
    if len(raw) > MAX_INPUT_BYTES:
        raise _err(source, f"is {len(raw)} bytes long, too large to be a certificate file.",
                   "Choose the certificate file itself (a few kilobytes).")
    if not raw.strip():
        raise _err(source, "is empty.", "Choose a file that holds a certificate (PEM, DER or PKCS#7).")
    return _load_any(raw, source, depth=0)


def _load_any(raw: bytes, source: str, *, depth: int) -> list[x509.Certificate]:
    if _BEGIN.search(raw):
        return _load_pem(raw, source)
    # Leading whitespace only: trailing bytes may belong to the DER itself.
    binary = raw.lstrip()
    stripped = raw.strip()
    der_size = der_length(binary) if binary[:1] == b"\x30" else None
    if der_size is not None and der_size <= len(binary):
        return _load_der(binary, source)
    if depth == 0 and _B64_CHARS.fullmatch(stripped):
        decoded = b64decode_lenient(stripped)
        if decoded is not None and decoded.strip():
            if _BEGIN.search(decoded):
                return _load_any(decoded, f"{source} (base64 of PEM)", depth=1)
            if decoded[:1] == b"\x30":
                return _load_der(decoded, f"{source} (base64 of DER)")
    if binary[:1] == b"\x30":
        return _load_der(binary, source)  # reports the truncation or damage
    raise _err(
        source,
        "holds no certificate: it is not PEM, DER, PKCS#7 or base64 of those.",
        "Choose the certificate file (.pem, .crt, .cer, .der, .p7b) rather than another document.",
    )


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def _load_pem(raw: bytes, source: str) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    seen_labels: list[str] = []
    begins = list(_BEGIN.finditer(raw))
    for number, match in enumerate(begins, start=1):
        label = match.group(1)
        label_text = label.decode("ascii", "replace")
        block_end_limit = begins[number].start() if number < len(begins) else len(raw)
        end_marker = b"-----END " + label + b"-----"
        end = raw.find(end_marker, match.end(), block_end_limit)
        block_name = f"block {number} ({label_text}, line {_line_of(raw, match.start())})"
        if _is_private_key_label(label):
            raise _err(
                source,
                f"contains a private key ({block_name}) where a certificate was expected.",
                "Give the certificate file, not the key file; keep the key file private.",
            )
        if end < 0:
            raise _err(
                source,
                f"{block_name} has no matching '-----END {label_text}-----' line: the file is truncated or damaged.",
                "Copy or download the certificate again; do not edit PEM files by hand.",
            )
        seen_labels.append(label_text)
        body = raw[match.end():end]
        if label in _CERT_LABELS:
            der = _pem_body(body, source, block_name)
            certs.append(_parse_der_certificate(der, source, block_name))
        elif label in _PKCS7_LABELS:
            der = _pem_body(body, source, block_name)
            certs.extend(_parse_pkcs7(der, source, block_name))
        # Other blocks (CRLs, public keys, parameters) are not certificates: skipped, and
        # reported below if nothing else was found.
    if not certs:
        if any(label.encode() in _CSR_LABELS for label in seen_labels):
            raise _err(
                source,
                "is a certificate signing request (CSR), not a certificate.",
                "Give the certificate issued for this request instead.",
            )
        found = ", ".join(dict.fromkeys(seen_labels)) or "nothing"
        raise _err(
            source,
            f"holds no certificate (found PEM blocks: {found}).",
            "Choose the file that holds the certificate(s).",
        )
    return certs


def _pem_body(body: bytes, source: str, block_name: str) -> bytes:
    # RFC 1421 header lines ("Proc-Type: ...") precede the base64; a PEM pasted out of a
    # JSON string may carry literal "\\n" sequences instead of line breaks.
    body = _PEM_HEADER.sub(b"", body.replace(b"\\r", b"\n").replace(b"\\n", b"\n"))
    compact = re.sub(rb"\s+", b"", body)
    if not compact:
        raise _err(source, f"{block_name} is empty.", "Copy or download the certificate again.")
    if not re.fullmatch(rb"[A-Za-z0-9+/]+={0,2}", compact) or len(compact) % 4 == 1:
        raise _err(
            source,
            f"{block_name} is damaged: it contains characters that are not base64, or it was cut short.",
            "Copy or download the certificate again; do not edit PEM files by hand.",
        )
    decoded = b64decode_lenient(compact)
    if decoded is None:
        raise _err(
            source,
            f"{block_name} is damaged: its base64 text does not decode.",
            "Copy or download the certificate again.",
        )
    return decoded


def _parse_der_certificate(der: bytes, source: str, where: str) -> x509.Certificate:
    total = der_length(der)
    if total is not None and total > len(der):
        raise _err(
            source,
            f"{where} is truncated: the certificate says it is {total} bytes long but only {len(der)} are there.",
            "Copy or download the certificate again.",
        )
    try:
        cert = x509.load_der_x509_certificate(der)
        # Extensions are parsed lazily; a damaged one must fail here, not in a later summary.
        cert.extensions  # noqa: B018
        cert.subject  # noqa: B018
        cert.issuer  # noqa: B018
    except Exception as exc:  # cryptography raises ValueError mostly, but any failure means "damaged".
        raise _err(
            source,
            f"{where} is not a valid certificate (damaged or not X.509: {_reason(exc)}).",
            "Copy or download the certificate again.",
        ) from None
    return cert


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def _parse_pkcs7(der: bytes, source: str, where: str) -> list[x509.Certificate]:
    try:
        cert_ders = pkcs7_certificate_ders(der)
    except ValueError:
        cert_ders = None  # not plain DER/definite-length BER: let cryptography try
    if cert_ders is not None:
        if not cert_ders:
            raise _empty_pkcs7(source, where)
        return [
            _parse_der_certificate(item, source, f"certificate {n} of {where}")
            for n, item in enumerate(cert_ders, start=1)
        ]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the BER fallback warning: BER is what we were given
            certs = pkcs7.load_der_pkcs7_certificates(der)
    except Exception as exc:
        if "no certificate" in str(exc).lower():
            raise _empty_pkcs7(source, where) from None
        raise _err(
            source,
            f"{where} is a damaged PKCS#7 bundle ({_reason(exc)}).",
            "Download the certificate bundle again.",
        ) from None
    if not certs:
        raise _empty_pkcs7(source, where)
    for cert in certs:
        try:
            cert.extensions  # noqa: B018
        except Exception as exc:
            raise _err(source, f"{where} holds a damaged certificate ({_reason(exc)}).",
                       "Download the certificate bundle again.") from None
    return certs


def _empty_pkcs7(source: str, where: str) -> CertificateParseError:
    return _err(
        source,
        f"{where} is a PKCS#7 bundle with no certificates in it.",
        "Download the certificate again in a format that includes it (e.g. Sectigo 'pem' or 'x509').",
    )


def _looks_like_private_key(der: bytes) -> bool:
    try:
        serialization.load_der_private_key(der, password=None)
        return True
    except TypeError:
        return True  # encrypted PKCS#8: still a key
    except Exception:
        return False


def _looks_like_csr(der: bytes) -> bool:
    try:
        x509.load_der_x509_csr(der)
        return True
    except Exception:
        return False


def _load_der(raw: bytes, source: str) -> list[x509.Certificate]:
    """One DER certificate, several concatenated, or a PKCS#7 bundle."""
    total = der_length(raw)
    if total is None:
        raise _err(source, "is not a certificate: the binary data is damaged.",
                   "Copy or download the certificate again.")
    if total == len(raw):
        if _is_pkcs7(raw):
            return _parse_pkcs7(raw, source, "the PKCS#7 bundle")
        try:
            return [_parse_der_certificate(raw, source, "the DER certificate")]
        except CertificateParseError:
            if _looks_like_private_key(raw):
                raise _err(source, "contains a private key where a certificate was expected.",
                           "Give the certificate file, not the key file; keep the key file private.") from None
            if _looks_like_csr(raw):
                raise _err(source, "is a certificate signing request (CSR), not a certificate.",
                           "Give the certificate issued for this request instead.") from None
            raise
    if total > len(raw):
        what = "PKCS#7 bundle" if _is_pkcs7(raw) else "certificate"
        raise _err(
            source,
            f"is truncated: the {what} says it is {total} bytes long but only {len(raw)} are there.",
            "Copy or download the certificate again.",
        )
    # Several DER elements back to back (a concatenated .der chain), or trailing junk.
    certs: list[x509.Certificate] = []
    offset, number = 0, 1
    while offset < len(raw):
        rest = raw[offset:]
        if not rest.strip(b"\x00\r\n\t "):
            break  # padding at the end of a file
        size = der_length(rest)
        if rest[:1] != b"\x30" or size is None:
            raise _err(source, f"has unreadable data after certificate {number - 1} (at byte {offset}).",
                       "Copy or download the certificate again.")
        certs.append(_parse_der_certificate(rest[:size], source, f"DER certificate {number}"))
        offset += size
        number += 1
    return certs


_PKCS7_SIGNED_DATA_OID = bytes.fromhex("06092a864886f70d010702")


def _is_pkcs7(der: bytes) -> bool:
    # ContentInfo starts with the contentType OID right after the outer SEQUENCE header.
    return _PKCS7_SIGNED_DATA_OID in der[:16]


def load_certificate(data: bytes | str, *, source: str = "input") -> x509.Certificate:
    """Exactly one certificate; anything else is an error."""
    certs = load_certificates(data, source=source)
    if len(certs) != 1:
        raise _err(
            source,
            f"holds {len(certs)} certificates where exactly one was expected.",
            "Choose a file with only this certificate, or use the chain option.",
        )
    return certs[0]


def load_certificate_file(path: str | Path) -> list[x509.Certificate]:
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except FileNotFoundError:
        raise CertificateParseError(f"The file '{path}' does not exist.", "Check the file name and folder.") from None
    except IsADirectoryError:
        raise CertificateParseError(f"'{path}' is a folder, not a certificate file.",
                                    "Choose the certificate file inside it.") from None
    except OSError as exc:
        raise CertificateParseError(f"The file '{path}' could not be read ({exc.strerror or exc}).",
                                    "Check that it exists and that you may read it.") from None
    return load_certificates(data, source=str(path))


def to_pem(certs: Iterable[x509.Certificate]) -> str:
    """PEM text, LF line endings, in the given order."""
    return "".join(cert.public_bytes(serialization.Encoding.PEM).decode("ascii") for cert in certs)


def to_base64_pem(cert: x509.Certificate) -> str:
    """Base64 of the PEM text (BEGIN/END lines included): what IoT Central takes."""
    return base64.b64encode(to_pem([cert]).encode("ascii")).decode("ascii")


def to_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def to_pkcs7_der(certs: Iterable[x509.Certificate]) -> bytes:
    """A degenerate PKCS#7 (certificates only), the `.p7b` form Windows and Sectigo use."""
    return pkcs7.serialize_certificates(list(certs), serialization.Encoding.DER)
