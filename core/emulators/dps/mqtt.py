"""MQTT 3.1.1 packets: the subset a DPS device speaks (CONNECT, SUBSCRIBE, UNSUBSCRIBE,
PUBLISH QoS 0/1, PUBACK, PINGREQ, DISCONNECT) and the server's answers.

Decoding is strict, as a broker must be: reserved flag bits, lengths, UTF-8 strings and the
protocol level are checked, and anything off raises `MalformedPacket` (the server then
closes the connection without an answer, per the specification).
"""

from __future__ import annotations

from dataclasses import dataclass, field

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
PUBREC, PUBREL, PUBCOMP = 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14

MAX_REMAINING_LENGTH = 268_435_455  # four length bytes, the protocol's own ceiling

# CONNACK return codes
ACCEPTED = 0
UNACCEPTABLE_PROTOCOL = 1
IDENTIFIER_REJECTED = 2
SERVER_UNAVAILABLE = 3
BAD_CREDENTIALS = 4
NOT_AUTHORIZED = 5


class MalformedPacket(ValueError):
    """The bytes are not a valid MQTT 3.1.1 packet."""


@dataclass
class Connect:
    client_id: str
    keep_alive: int
    clean_session: bool
    username: str | None = None
    password: bytes | None = None
    will_topic: str | None = None
    will_message: bytes | None = None
    protocol_level: int = 4


@dataclass
class Publish:
    topic: str
    payload: bytes
    qos: int = 0
    packet_id: int | None = None
    retain: bool = False
    dup: bool = False


@dataclass
class Subscribe:
    packet_id: int
    topics: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Unsubscribe:
    packet_id: int
    topics: list[str] = field(default_factory=list)


@dataclass
class PubAck:
    packet_id: int


@dataclass
class PingReq:
    pass


@dataclass
class Disconnect:
    pass


@dataclass
class UnsupportedConnect:
    """A CONNECT with the right protocol name but another level: answered with CONNACK 1."""

    protocol_level: int


Packet = Connect | Publish | Subscribe | Unsubscribe | PubAck | PingReq | Disconnect | UnsupportedConnect


# -- fixed header -------------------------------------------------------------------------------


def encode_remaining_length(length: int) -> bytes:
    if not 0 <= length <= MAX_REMAINING_LENGTH:
        raise ValueError(f"remaining length {length} out of range")
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def split_packet(buffer: bytes | bytearray, max_size: int = MAX_REMAINING_LENGTH) -> tuple[int, int, int] | None:
    """Look at the start of `buffer`: None if a whole packet is not there yet, else
    (first byte, header length, remaining length). Raises MalformedPacket for a length
    that can never be valid or is larger than `max_size`."""
    if len(buffer) < 2:
        return None
    multiplier, length = 1, 0
    for index in range(1, 5):
        if index >= len(buffer):
            return None
        byte = buffer[index]
        length += (byte & 0x7F) * multiplier
        if not byte & 0x80:
            if index > 1 and byte == 0:
                # Non-minimal encodings are not allowed (MQTT-1.5.3 / 2.2.3).
                raise MalformedPacket("non-minimal remaining length")
            if length > max_size:
                raise MalformedPacket(f"packet of {length} bytes is larger than allowed ({max_size})")
            if len(buffer) < index + 1 + length:
                return None
            return buffer[0], index + 1, length
        multiplier *= 128
    raise MalformedPacket("remaining length longer than four bytes")


# -- decoding -----------------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise MalformedPacket("packet shorter than its fields")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def binary(self) -> bytes:
        return self.take(self.u16())

    def string(self) -> str:
        raw = self.binary()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPacket("string is not valid UTF-8") from None
        # MQTT-1.5.3-2: no U+0000 in strings (surrogates cannot survive strict UTF-8 decoding).
        if "\x00" in text:
            raise MalformedPacket("string contains U+0000")
        return text


def _topic_ok(topic: str, *, is_filter: bool) -> bool:
    if not topic or len(topic.encode()) > 65535:
        return False
    if not is_filter:
        return "+" not in topic and "#" not in topic
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def decode_packet(first: int, body: bytes) -> Packet:
    """One packet from its first byte and the bytes after the remaining length."""
    kind, flags = first >> 4, first & 0x0F
    r = _Reader(body)
    if kind == CONNECT:
        if flags:
            raise MalformedPacket("CONNECT flags must be 0")
        packet = _decode_connect(r)
    elif kind == PUBLISH:
        packet = _decode_publish(flags, r)
    elif kind == PUBACK:
        if flags:
            raise MalformedPacket("PUBACK flags must be 0")
        packet = PubAck(r.u16())
    elif kind == SUBSCRIBE:
        if flags != 0b0010:
            raise MalformedPacket("SUBSCRIBE flags must be 0010")
        packet = _decode_subscribe(r)
    elif kind == UNSUBSCRIBE:
        if flags != 0b0010:
            raise MalformedPacket("UNSUBSCRIBE flags must be 0010")
        packet_id = r.u16()
        topics = []
        while r.remaining():
            topic = r.string()
            if not _topic_ok(topic, is_filter=True):
                raise MalformedPacket("invalid topic filter")
            topics.append(topic)
        if not topics:
            raise MalformedPacket("UNSUBSCRIBE without topics")
        packet = Unsubscribe(packet_id, topics)
    elif kind == PINGREQ:
        if flags:
            raise MalformedPacket("PINGREQ flags must be 0")
        packet = PingReq()
    elif kind == DISCONNECT:
        if flags:
            raise MalformedPacket("DISCONNECT flags must be 0")
        packet = Disconnect()
    else:
        # Server-to-client types, QoS 2 flow (unsupported by DPS) and reserved types.
        raise MalformedPacket(f"packet type {kind} is not accepted from a client")
    if r.remaining() and not isinstance(packet, (Publish, UnsupportedConnect)):
        raise MalformedPacket("packet longer than its fields")
    return packet


def _decode_connect(r: _Reader) -> Packet:
    name = r.string()
    if name != "MQTT":
        raise MalformedPacket(f"unknown protocol name {name!r}")
    level = r.u8()
    if level != 4:
        return UnsupportedConnect(level)
    flags = r.u8()
    if flags & 0x01:
        raise MalformedPacket("CONNECT reserved flag set")
    will = bool(flags & 0x04)
    will_qos = (flags >> 3) & 0x03
    will_retain = bool(flags & 0x20)
    has_password, has_username = bool(flags & 0x40), bool(flags & 0x80)
    if will_qos == 3 or (not will and (will_qos or will_retain)):
        raise MalformedPacket("invalid will flags")
    if has_password and not has_username:
        raise MalformedPacket("password without user name")
    keep_alive = r.u16()
    packet = Connect(client_id=r.string(), keep_alive=keep_alive, clean_session=bool(flags & 0x02))
    if will:
        packet.will_topic = r.string()
        packet.will_message = r.binary()
        if not _topic_ok(packet.will_topic, is_filter=False):
            raise MalformedPacket("invalid will topic")
    if has_username:
        packet.username = r.string()
    if has_password:
        packet.password = r.binary()
    if r.remaining():
        raise MalformedPacket("CONNECT longer than its fields")
    return packet


def _decode_publish(flags: int, r: _Reader) -> Publish:
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise MalformedPacket("PUBLISH with QoS 3")
    dup = bool(flags & 0x08)
    if qos == 0 and dup:
        raise MalformedPacket("DUP set on a QoS 0 PUBLISH")
    topic = r.string()
    if not _topic_ok(topic, is_filter=False):
        raise MalformedPacket("invalid topic name")
    packet_id = None
    if qos:
        packet_id = r.u16()
        if packet_id == 0:
            raise MalformedPacket("packet identifier 0")
    return Publish(topic, r.take(r.remaining()), qos, packet_id, bool(flags & 0x01), dup)


def _decode_subscribe(r: _Reader) -> Subscribe:
    packet_id = r.u16()
    if packet_id == 0:
        raise MalformedPacket("packet identifier 0")
    topics = []
    while r.remaining():
        topic = r.string()
        options = r.u8()
        if options & 0xFC or (options & 0x03) == 3:
            raise MalformedPacket("invalid requested QoS")
        if not _topic_ok(topic, is_filter=True):
            raise MalformedPacket("invalid topic filter")
        topics.append((topic, options & 0x03))
    if not topics:
        raise MalformedPacket("SUBSCRIBE without topics")
    return Subscribe(packet_id, topics)


# -- encoding -----------------------------------------------------------------------------------


def _string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return len(raw).to_bytes(2, "big") + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + encode_remaining_length(len(body)) + body


def encode_connack(return_code: int, session_present: bool = False) -> bytes:
    return _packet(CONNACK << 4, bytes([1 if session_present else 0, return_code]))


def encode_publish(packet: Publish) -> bytes:
    flags = (0x08 if packet.dup else 0) | (packet.qos << 1) | (0x01 if packet.retain else 0)
    body = _string(packet.topic)
    if packet.qos:
        assert packet.packet_id
        body += packet.packet_id.to_bytes(2, "big")
    return _packet((PUBLISH << 4) | flags, body + packet.payload)


def encode_puback(packet_id: int) -> bytes:
    return _packet(PUBACK << 4, packet_id.to_bytes(2, "big"))


def encode_suback(packet_id: int, codes: list[int]) -> bytes:
    return _packet(SUBACK << 4, packet_id.to_bytes(2, "big") + bytes(codes))


def encode_unsuback(packet_id: int) -> bytes:
    return _packet(UNSUBACK << 4, packet_id.to_bytes(2, "big"))


def encode_pingresp() -> bytes:
    return _packet(PINGRESP << 4, b"")


# Client-side encoders: for tests that speak raw MQTT to the emulator.


def encode_connect(packet: Connect) -> bytes:
    flags = (0x02 if packet.clean_session else 0)
    if packet.username is not None:
        flags |= 0x80
    if packet.password is not None:
        flags |= 0x40
    body = _string("MQTT") + bytes([packet.protocol_level, flags]) + packet.keep_alive.to_bytes(2, "big")
    body += _string(packet.client_id)
    if packet.username is not None:
        body += _string(packet.username)
    if packet.password is not None:
        body += len(packet.password).to_bytes(2, "big") + packet.password
    return _packet(CONNECT << 4, body)


def encode_subscribe(packet: Subscribe) -> bytes:
    body = packet.packet_id.to_bytes(2, "big") + b"".join(_string(t) + bytes([q]) for t, q in packet.topics)
    return _packet((SUBSCRIBE << 4) | 0b0010, body)


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT wildcard match; topics starting with '$' are not matched by a leading wildcard."""
    if topic.startswith("$") and topic_filter[:1] in ("#", "+"):
        return False
    f_levels, t_levels = topic_filter.split("/"), topic.split("/")
    for i, level in enumerate(f_levels):
        if level == "#":
            return True
        if i >= len(t_levels):
            return False
        if level != "+" and level != t_levels[i]:
            return False
    return len(f_levels) == len(t_levels)
