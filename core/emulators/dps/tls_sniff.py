"""Read the client's certificate chain off a TLS 1.2 handshake as it goes by.

Why: DPS accepts the TLS handshake from any client that proves possession of its leaf
key, then judges the chain in the application (401002 "Invalid certificate"). Python 3.11's
`ssl` has no verify callback and no public way to get the chain the peer sent
(`get_unverified_chain()` arrives in 3.13), and with CERT_REQUIRED OpenSSL aborts unless it
already trusts something in the chain. In TLS 1.2 the client's Certificate message travels
in clear before its ChangeCipherSpec, so the server reads it here, trusts the presented leaf
for this one connection (partial chain), and OpenSSL still checks the CertificateVerify
signature: the client must hold the leaf's private key. The chain itself is then checked
by the DPS logic, against the IoT Central emulator's verified CAs.
"""

from __future__ import annotations

HANDSHAKE, CHANGE_CIPHER_SPEC, ALERT, APPLICATION_DATA = 22, 20, 21, 23
CERTIFICATE = 11
MAX_RECORD = 2**14 + 2048
MAX_HANDSHAKE_BYTES = 1 << 20  # a chain larger than 1 MiB is hostile, not a device


class HandshakeSniffError(ValueError):
    """The client's bytes are not a TLS handshake this server can follow."""


class ClientChainSniffer:
    """Feed it every byte the client sends, in order, until `done`; then `chain` holds the
    DER certificates of the client's Certificate message (empty if it sent none)."""

    def __init__(self) -> None:
        self._records = bytearray()
        self._handshake = bytearray()
        self.done = False
        self.chain: list[bytes] | None = None

    def feed(self, data: bytes) -> None:
        if self.done:
            return
        self._records += data
        while not self.done and len(self._records) >= 5:
            content_type = self._records[0]
            length = int.from_bytes(self._records[3:5], "big")
            if self._records[1] != 3 or length > MAX_RECORD:
                raise HandshakeSniffError("not a TLS record")
            if len(self._records) < 5 + length:
                return
            fragment = bytes(self._records[5:5 + length])
            del self._records[:5 + length]
            if content_type == HANDSHAKE:
                self._handshake += fragment
                if len(self._handshake) > MAX_HANDSHAKE_BYTES:
                    raise HandshakeSniffError("handshake too large")
                self._messages()
            elif content_type in (CHANGE_CIPHER_SPEC, APPLICATION_DATA):
                # From here on the client's records are encrypted: nothing more to read.
                self.done = True
            elif content_type != ALERT:
                raise HandshakeSniffError(f"unexpected TLS record type {content_type}")

    def _messages(self) -> None:
        while len(self._handshake) >= 4:
            kind = self._handshake[0]
            length = int.from_bytes(self._handshake[1:4], "big")
            if len(self._handshake) < 4 + length:
                return
            body = bytes(self._handshake[4:4 + length])
            del self._handshake[:4 + length]
            if kind == CERTIFICATE:
                self.chain = parse_certificate_message(body)
                self.done = True
                return


def parse_certificate_message(body: bytes) -> list[bytes]:
    """TLS 1.2 Certificate body: a 24-bit list length, then 24-bit length-prefixed DERs."""
    if len(body) < 3:
        raise HandshakeSniffError("short Certificate message")
    total = int.from_bytes(body[:3], "big")
    if total != len(body) - 3:
        raise HandshakeSniffError("Certificate message length mismatch")
    certs, pos = [], 3
    while pos < len(body):
        if pos + 3 > len(body):
            raise HandshakeSniffError("truncated certificate entry")
        size = int.from_bytes(body[pos:pos + 3], "big")
        pos += 3
        if size == 0 or pos + size > len(body):
            raise HandshakeSniffError("bad certificate entry length")
        certs.append(body[pos:pos + size])
        pos += size
    return certs
