"""The server side of one TLS 1.2 connection, driven through memory BIOs so the client's
certificate chain can be read off the handshake (see tls_sniff) before OpenSSL checks it."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable

from certbench.core.emulators.dps.tls_sniff import ClientChainSniffer

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME: dates are judged by the DPS logic, which answers an
# expired leaf with 401002 as the service does, instead of a bare TLS alert.
VERIFY_NO_CHECK_TIME = 0x200000


class TlsClosed(ConnectionError):
    """The peer closed the connection, or the TLS session ended."""


def server_context(load_identity: Callable[[ssl.SSLContext], None]) -> ssl.SSLContext:
    """A fresh context for one connection: TLS 1.2 only (as DPS offers to this SDK), client
    certificate required, nothing trusted until the client's leaf is read off the wire."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | VERIFY_NO_CHECK_TIME
    load_identity(context)
    return context


class TlsConnection:
    def __init__(self, sock: socket.socket, context: ssl.SSLContext) -> None:
        self.sock = sock
        self.context = context
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._in, self._out, server_side=True)

    def _flush(self) -> None:
        data = self._out.read()
        if data:
            self.sock.sendall(data)

    def _receive(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise TlsClosed("connection closed by the client")
        return data

    def handshake(self) -> list[bytes]:
        """Complete the handshake; returns the DER certificates the client sent, leaf first.
        Raises ssl.SSLError (refused by OpenSSL), TlsClosed, OSError or HandshakeSniffError."""
        sniffer = ClientChainSniffer()
        trusted = False
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                data = self._receive()
                sniffer.feed(data)
                if sniffer.chain and not trusted:
                    # Trust the presented leaf for this connection only: OpenSSL then checks
                    # that the client signed the handshake with that leaf's key.
                    self.context.load_verify_locations(cadata=sniffer.chain[0])
                    trusted = True
                self._in.write(data)
        self._flush()
        peer = self._tls.getpeercert(binary_form=True)
        if not sniffer.chain or peer != sniffer.chain[0]:
            raise ssl.SSLError("the authenticated client certificate is not the one read off the handshake")
        return sniffer.chain

    def recv(self) -> bytes:
        """Some application bytes; raises TlsClosed at the end of the stream."""
        while True:
            try:
                data = self._tls.read(65536)
            except ssl.SSLWantReadError:
                self._flush()
                self._in.write(self._receive())
                continue
            except ssl.SSLZeroReturnError:
                raise TlsClosed("TLS session closed by the client") from None
            if not data:
                raise TlsClosed("TLS session closed by the client")
            return data

    def send(self, data: bytes) -> None:
        self._tls.write(data)
        self._flush()

    def close(self) -> None:
        try:
            self._tls.unwrap()
        except (ssl.SSLError, OSError, ValueError):
            pass  # the peer's close_notify is not waited for
        try:
            self._flush()  # our close_notify, so a client sees a clean end of the session
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
