"""Low-level helpers shared by the certificate and CSR readers: lenient base64 and the DER
length header (how a truncated DER file is told apart from a damaged one)."""

from __future__ import annotations

import base64
import binascii
import re


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
