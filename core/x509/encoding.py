"""Low-level helpers shared by the certificate and CSR readers: lenient base64 and the DER
length header (how a truncated DER file is told apart from a damaged one)."""

from __future__ import annotations

import base64
import binascii
import re


def decode_text_bom(raw: bytes) -> bytes:
    """Undo the byte-order marks Windows tools add to text files: UTF-8 (Notepad) and UTF-16
    (PowerShell 5 `>` redirection writes UTF-16LE). Binary input is returned unchanged."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:]
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            return raw
    return raw


def b64decode_lenient(text: bytes) -> bytes | None:
    """Decode base64 ignoring whitespace and missing trailing padding; None if it is not base64."""
    compact = re.sub(rb"\s+", b"", text)
    # Copy-paste often drops the trailing '=' padding.
    compact += b"=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


def der_length(raw: bytes) -> int | None:
    """Total length (header + content) of the DER element at the start of `raw`, or None if
    the header itself is unreadable. May exceed len(raw): that is how truncation shows."""
    if len(raw) < 2:
        return None
    first = raw[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if count == 0 or count > 4 or len(raw) < 2 + count:
        return None
    return 2 + count + int.from_bytes(raw[2 : 2 + count], "big")


def der_elements(raw: bytes) -> list[tuple[int, bytes, bytes]]:
    """The DER elements that exactly fill `raw`, as (tag, content, whole element).
    ValueError for anything else (indefinite lengths, multi-byte tags, truncation)."""
    elements = []
    offset = 0
    while offset < len(raw):
        tag = raw[offset]
        if tag & 0x1F == 0x1F:
            raise ValueError("multi-byte tag")
        size = der_length(raw[offset:])
        if size is None or offset + size > len(raw):
            raise ValueError("bad or truncated length")
        header = 2 if raw[offset + 1] < 0x80 else 2 + (raw[offset + 1] & 0x7F)
        elements.append((tag, raw[offset + header : offset + size], raw[offset : offset + size]))
        offset += size
    return elements


_SIGNED_DATA_OID = bytes.fromhex("2a864886f70d010702")


def pkcs7_certificate_ders(der: bytes) -> list[bytes]:
    """The certificates (DER) inside a PKCS#7 SignedData, in the order stored.

    Written out because real bundles (openssl crl2pkcs7, some CAs) store the certificate SET
    unsorted, which is valid BER but not DER and which cryptography only reads with a
    deprecation warning. ValueError if `der` is not SignedData."""
    (outer,) = _only(der_elements(der), 0x30)
    content_info = der_elements(outer)
    if len(content_info) != 2 or content_info[0][0] != 0x06 or content_info[0][1] != _SIGNED_DATA_OID:
        raise ValueError("not PKCS#7 SignedData")
    if content_info[1][0] != 0xA0:
        raise ValueError("missing content")
    (signed_data,) = _only(der_elements(content_info[1][1]), 0x30)
    fields = der_elements(signed_data)
    for tag, content, _whole in fields[3:]:
        if tag == 0xA0:  # [0] IMPLICIT certificates
            # Other CertificateChoices (attribute certificates, [1]..[3]) are not certificates.
            return [whole for inner_tag, _c, whole in der_elements(content) if inner_tag == 0x30]
    return []


def _only(elements: list[tuple[int, bytes, bytes]], tag: int) -> tuple[bytes]:
    if len(elements) != 1 or elements[0][0] != tag:
        raise ValueError("unexpected structure")
    return (elements[0][1],)
