"""The DPS emulator's MQTT 3.1.1 server over TLS 1.2: one thread per connection, written on
sockets + ssl (no broker library: a DPS endpoint is a request/response service with two
topics, not a broker).

Per connection: TLS with a required client certificate (chain read off the handshake) ->
CONNECT (client id = registration id, user name `{idScope}/registrations/{id}/api-version=...`)
-> SUBSCRIBE `$dps/registrations/res/#` -> PUBLISH register / operation-status requests,
answered on `$dps/registrations/res/{status}/?$rid=...`. A malformed packet, a packet before
CONNECT, a second CONNECT, QoS 2 or an unknown topic closes the connection, as a broker does.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import ssl
import threading
import urllib.parse
from collections import deque
from dataclasses import dataclass, field

from cryptography import x509

from certbench.core.emulators.dps import mqtt
from certbench.core.emulators.dps.service import Answer, CentralState, DpsService
from certbench.core.emulators.dps.tls_conn import TlsClosed, TlsConnection, server_context
from certbench.core.emulators.dps.tls_sniff import HandshakeSniffError
from certbench.core.emulators.tls import EmulatorCA, load_cert_chain

log = logging.getLogger(__name__)

DPS_PORT = 8883
RESPONSE_FILTER = "$dps/registrations/res/#"
REQUEST_TOPIC = re.compile(r"^\$dps/registrations/(PUT|GET)/(iotdps-register|iotdps-get-operationstatus)/\?(.*)$")
USERNAME = re.compile(r"^(?P<scope>[^/]+)/registrations/(?P<rid>[^/]+)/(?P<query>.*)$")
MAX_PACKET = 256 * 1024  # DPS requests are small; refuse anything huge before buffering it
HANDSHAKE_TIMEOUT = 10.0
IDLE_LIMIT = 600.0


def check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"The DPS emulator listens on loopback addresses only (127.x.y.z or localhost), not '{host}'.")


@dataclass
class _Subscription:
    topic_filter: str
    qos: int


@dataclass
class ConnectionRecord:
    """What the emulator saw from one client (for tests and the console)."""

    peer: tuple[str, int]
    chain: list[x509.Certificate] = field(default_factory=list)
    client_id: str | None = None
    connack: int | None = None
    closed_reason: str = ""


class DpsEmulator:
    """`with DpsEmulator(state, host="127.0.0.5") as dps:` serves DPS on 127.0.0.5:8883."""

    def __init__(self, state: CentralState, *, host: str = "127.0.0.1", port: int = DPS_PORT,
                 tls: EmulatorCA | None = None, polls_before_assigned: int = 0, retry_after: int = 1) -> None:
        check_loopback(host)
        self.host = host
        self.port = port
        self.tls = tls or EmulatorCA("Certbench DPS Emulator CA")
        self.service = DpsService(state, polls_before_assigned=polls_before_assigned, retry_after=retry_after)
        names = [host] if host != "localhost" else ["localhost", "127.0.0.1"]
        self._server_cert, self._server_key = self.tls.issue(host, hosts=names)
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._sessions: set[_Session] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        # The most recent connections, for tests and diagnosis (bounded for long runs).
        self.connections: deque[ConnectionRecord] = deque(maxlen=1000)

    # -- lifecycle -----------------------------------------------------------------------------------
    @property
    def faults(self):
        return self.service.faults

    @property
    def id_scope(self) -> str:
        return self.service.id_scope

    @property
    def ca_pem(self) -> str:
        """What a client passes as `server_verification_cert`."""
        return self.tls.pem

    def start(self) -> DpsEmulator:
        bind_host = "127.0.0.1" if self.host == "localhost" else self.host
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((bind_host, self.port))
            listener.listen(32)
        except OSError:
            listener.close()
            raise
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._accept_thread = threading.Thread(target=self._accept_loop, name=f"dps-accept-{self.host}", daemon=True)
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=5)
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            session.abort()
        for session in sessions:
            session.thread.join(timeout=5)

    def __enter__(self) -> DpsEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, peer = self._listener.accept()
            except OSError:
                return
            record = ConnectionRecord(peer)
            session = _Session(self, sock, record)
            with self._lock:
                self.connections.append(record)
                self._sessions.add(session)
            session.thread.start()

    def _forget(self, session: _Session) -> None:
        with self._lock:
            self._sessions.discard(session)

    def _load_identity(self, context: ssl.SSLContext) -> None:
        load_cert_chain(context, [self._server_cert, self.tls.certificate], self._server_key)


class _Close(Exception):
    """End this connection (reason for the record)."""


class _Session:
    def __init__(self, server: DpsEmulator, sock: socket.socket, record: ConnectionRecord) -> None:
        self.server = server
        self.service = server.service
        self.sock = sock
        self.record = record
        self.tls: TlsConnection | None = None
        self.chain: list[x509.Certificate] = []
        self.registration_id = ""
        self.subscriptions: dict[str, _Subscription] = {}
        self.inflight: dict[int, bytes] = {}
        self._next_id = 0
        self.thread = threading.Thread(target=self.run, name=f"dps-conn-{record.peer[1]}", daemon=True)

    def abort(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def run(self) -> None:
        try:
            self._serve()
        except _Close as exc:
            self.record.closed_reason = str(exc)
        except (TlsClosed, ConnectionError, socket.timeout, OSError, ssl.SSLError) as exc:
            self.record.closed_reason = f"{type(exc).__name__}: {exc}"
        except Exception:  # noqa: BLE001 - one bad connection must not take the emulator down
            log.exception("DPS emulator: connection failed")
            self.record.closed_reason = "internal error"
        finally:
            if self.tls is not None:
                self.tls.close()
            else:
                self.sock.close()
            self.server._forget(self)

    # -- TLS ----------------------------------------------------------------------------------------
    def _serve(self) -> None:
        self.sock.settimeout(HANDSHAKE_TIMEOUT)
        self.tls = TlsConnection(self.sock, server_context(self.server._load_identity))
        try:
            ders = self.tls.handshake()
        except HandshakeSniffError as exc:
            raise _Close(f"TLS refused: {exc}") from None
        except ssl.SSLError as exc:
            raise _Close(f"TLS refused: {exc.reason or exc}") from None
        try:
            self.chain = [x509.load_der_x509_certificate(d) for d in ders]
        except ValueError:
            raise _Close("TLS refused: a certificate in the client's chain cannot be parsed") from None
        self.record.chain = self.chain
        self._mqtt()

    # -- MQTT ---------------------------------------------------------------------------------------
    def _packets(self):
        buffer = bytearray()
        while True:
            head = mqtt.split_packet(buffer, MAX_PACKET)
            if head is None:
                assert self.tls is not None
                buffer += self.tls.recv()
                continue
            first, header_len, length = head
            body = bytes(buffer[header_len:header_len + length])
            del buffer[:header_len + length]
            yield first, body

    def _send(self, data: bytes) -> None:
        assert self.tls is not None
        self.tls.send(data)

    def _mqtt(self) -> None:
        packets = self._packets()
        connected = False
        for first, body in packets:
            try:
                packet = mqtt.decode_packet(first, body)
            except mqtt.MalformedPacket as exc:
                raise _Close(f"malformed packet: {exc}") from None
            if not connected:
                if not isinstance(packet, (mqtt.Connect, mqtt.UnsupportedConnect)):
                    raise _Close("first packet was not CONNECT")
                self._connect(packet)
                connected = True
                continue
            if isinstance(packet, (mqtt.Connect, mqtt.UnsupportedConnect)):
                raise _Close("second CONNECT")
            if isinstance(packet, mqtt.Subscribe):
                self._subscribe(packet)
            elif isinstance(packet, mqtt.Unsubscribe):
                for topic in packet.topics:
                    self.subscriptions.pop(topic, None)
                self._send(mqtt.encode_unsuback(packet.packet_id))
            elif isinstance(packet, mqtt.Publish):
                self._publish(packet)
            elif isinstance(packet, mqtt.PubAck):
                self.inflight.pop(packet.packet_id, None)
            elif isinstance(packet, mqtt.PingReq):
                self._send(mqtt.encode_pingresp())
            elif isinstance(packet, mqtt.Disconnect):
                raise _Close("DISCONNECT")

    def _refuse(self, code: int, why: str) -> None:
        self.record.connack = code
        self._send(mqtt.encode_connack(code))
        raise _Close(f"CONNACK {code}: {why}")

    def _connect(self, packet: mqtt.Connect | mqtt.UnsupportedConnect) -> None:
        if isinstance(packet, mqtt.UnsupportedConnect):
            self._refuse(mqtt.UNACCEPTABLE_PROTOCOL, f"protocol level {packet.protocol_level}")
        assert isinstance(packet, mqtt.Connect)
        self.record.client_id = packet.client_id
        if not packet.client_id:
            self._refuse(mqtt.IDENTIFIER_REJECTED, "empty client id (it must be the registration id)")
        match = USERNAME.match(packet.username or "")
        if match is None:
            self._refuse(mqtt.NOT_AUTHORIZED, "user name is not {idScope}/registrations/{registrationId}/api-version=...")
        query = urllib.parse.parse_qs(match.group("query"))
        if not query.get("api-version"):
            self._refuse(mqtt.NOT_AUTHORIZED, "user name without api-version")
        if match.group("scope") != self.service.id_scope:
            self._refuse(mqtt.NOT_AUTHORIZED, f"unknown ID scope {match.group('scope')!r}")
        if urllib.parse.unquote(match.group("rid")) != packet.client_id:
            self._refuse(mqtt.NOT_AUTHORIZED, "client id differs from the registration id in the user name")
        if packet.password is not None:
            self._refuse(mqtt.NOT_AUTHORIZED, "a password (SAS token) was sent; this endpoint takes X.509 only")
        self.registration_id = packet.client_id
        # Keep-alive: the client must speak within 1.5 x its keep-alive (MQTT-3.1.2-24).
        self.sock.settimeout(packet.keep_alive * 1.5 if packet.keep_alive else IDLE_LIMIT)
        self.record.connack = mqtt.ACCEPTED
        self._send(mqtt.encode_connack(mqtt.ACCEPTED))

    def _subscribe(self, packet: mqtt.Subscribe) -> None:
        codes = []
        for topic_filter, qos in packet.topics:
            if topic_filter == RESPONSE_FILTER:
                granted = min(qos, 1)  # DPS, like IoT Hub, has no QoS 2
                self.subscriptions[topic_filter] = _Subscription(topic_filter, granted)
                codes.append(granted)
            else:
                codes.append(0x80)
        self._send(mqtt.encode_suback(packet.packet_id, codes))

    def _publish(self, packet: mqtt.Publish) -> None:
        if packet.qos == 2:
            raise _Close("QoS 2 is not supported")
        match = REQUEST_TOPIC.match(packet.topic)
        if match is None:
            raise _Close(f"publish to an unknown topic {packet.topic!r}")
        method, operation, query = match.groups()
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        rid = params.get("$rid")
        if not rid:
            raise _Close("request without $rid")
        expected = {"iotdps-register": "PUT", "iotdps-get-operationstatus": "GET"}[operation]
        if method != expected:
            raise _Close(f"{method} is not allowed on {operation}")
        if packet.qos == 1:
            assert packet.packet_id is not None
            self._send(mqtt.encode_puback(packet.packet_id))
        answer = self.service.fault(method, operation)
        if answer is not None and answer.drop:
            raise _Close("fault injection: connection dropped")
        if answer is None:
            if operation == "iotdps-register":
                decision = self.service.authenticate(self.chain, self.registration_id)
                answer = self.service.register(decision, self.registration_id, packet.payload)
            else:
                answer = self.service.operation_status(self.registration_id, params.get("operationId"))
        self._respond(rid, answer)

    def _respond(self, rid: str, answer: Answer) -> None:
        topic = f"$dps/registrations/res/{answer.status}/?$rid={urllib.parse.quote(rid, safe='')}"
        if answer.retry_after is not None:
            topic += f"&retry-after={answer.retry_after}"
        granted = [s.qos for s in self.subscriptions.values() if mqtt.topic_matches(s.topic_filter, topic)]
        if not granted:
            return  # nobody subscribed: the answer is lost, as with the real service
        qos = max(granted)
        packet_id = None
        if qos:
            self._next_id = self._next_id % 65535 + 1
            packet_id = self._next_id
        data = mqtt.encode_publish(mqtt.Publish(topic, answer.payload(), qos, packet_id))
        if packet_id:
            self.inflight[packet_id] = data
        self._send(data)
