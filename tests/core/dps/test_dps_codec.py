"""MQTT packet codec and the TLS handshake reader: round trips, and property tests that
arbitrary bytes only ever raise the parser's own error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certbench.core.emulators.dps import mqtt
from certbench.core.emulators.dps.tls_sniff import (
    ClientChainSniffer,
    HandshakeSniffError,
    parse_certificate_message,
)

topic_level = st.text(st.characters(blacklist_characters="/+#\x00", blacklist_categories=("Cs",)), min_size=1, max_size=8)
topics = st.lists(topic_level, min_size=1, max_size=4).map("/".join)


def _decode_whole(data: bytes):
    head = mqtt.split_packet(data)
    assert head is not None
    first, header, length = head
    assert header + length == len(data)
    return mqtt.decode_packet(first, data[header:])


@given(st.integers(0, mqtt.MAX_REMAINING_LENGTH))
def test_remaining_length_round_trip(n):
    encoded = mqtt.encode_remaining_length(n)
    assert 1 <= len(encoded) <= 4
    head = mqtt.split_packet(b"\x30" + encoded + b"\x00" * min(n, 10), max_size=mqtt.MAX_REMAINING_LENGTH)
    if n <= 10:
        assert head == (0x30, 1 + len(encoded), n)
    else:
        assert head is None  # not all there yet


@given(topics, st.binary(max_size=300), st.sampled_from([0, 1]), st.integers(1, 65535), st.booleans())
def test_publish_round_trip(topic, payload, qos, packet_id, retain):
    packet = mqtt.Publish(topic, payload, qos, packet_id if qos else None, retain)
    assert _decode_whole(mqtt.encode_publish(packet)) == packet


@given(st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40),
       st.integers(0, 65535), st.one_of(st.none(), st.text(max_size=40).filter(lambda t: "\x00" not in t)))
def test_connect_round_trip(client_id, keep_alive, username):
    packet = mqtt.Connect(client_id, keep_alive, True, username)
    assert _decode_whole(mqtt.encode_connect(packet)) == packet


@given(st.integers(1, 65535), st.lists(st.tuples(topics, st.sampled_from([0, 1])), min_size=1, max_size=4))
def test_subscribe_round_trip(packet_id, entries):
    packet = mqtt.Subscribe(packet_id, entries)
    assert _decode_whole(mqtt.encode_subscribe(packet)) == packet


@settings(max_examples=400)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_crash_the_decoder(data):
    try:
        head = mqtt.split_packet(data, max_size=1024)
        if head is not None:
            first, header, length = head
            mqtt.decode_packet(first, data[header:header + length])
    except mqtt.MalformedPacket:
        pass


@pytest.mark.parametrize("topic_filter, topic, expected", [
    ("$dps/registrations/res/#", "$dps/registrations/res/200/?$rid=1", True),
    ("$dps/registrations/res/#", "$dps/registrations/res", True),
    ("#", "$dps/registrations/res/200", False),
    ("+/registrations/res/#", "$dps/registrations/res/200", False),
    ("a/+/c", "a/b/c", True),
    ("a/+/c", "a/b/d", False),
    ("a/b", "a/b/c", False),
])
def test_topic_matching(topic_filter, topic, expected):
    assert mqtt.topic_matches(topic_filter, topic) is expected


def _certificate_message(ders: list[bytes]) -> bytes:
    entries = b"".join(len(d).to_bytes(3, "big") + d for d in ders)
    return len(entries).to_bytes(3, "big") + entries


def _records(handshake: bytes, size: int) -> bytes:
    out = b""
    for i in range(0, len(handshake), size):
        chunk = handshake[i:i + size]
        out += bytes([22, 3, 3]) + len(chunk).to_bytes(2, "big") + chunk
    return out


@given(st.lists(st.binary(min_size=1, max_size=200), min_size=0, max_size=4), st.integers(1, 50), st.integers(1, 64))
def test_sniffer_reads_the_chain_however_it_is_split(ders, record_size, feed_size):
    hello = bytes([1]) + (5).to_bytes(3, "big") + b"hello"
    certificate = _certificate_message(ders)
    handshake = hello + bytes([11]) + len(certificate).to_bytes(3, "big") + certificate
    stream = _records(handshake, record_size) + bytes([20, 3, 3, 0, 1, 1]) + b"\x17\x03\x03\x00\x05encry"
    sniffer = ClientChainSniffer()
    for i in range(0, len(stream), feed_size):
        sniffer.feed(stream[i:i + feed_size])
    assert sniffer.done and sniffer.chain == ders


def test_sniffer_stops_at_change_cipher_spec_without_certificate():
    sniffer = ClientChainSniffer()
    sniffer.feed(bytes([20, 3, 3, 0, 1, 1]))
    assert sniffer.done and sniffer.chain is None


@settings(max_examples=300)
@given(st.binary(max_size=80))
def test_arbitrary_bytes_never_crash_the_sniffer(data):
    sniffer = ClientChainSniffer()
    try:
        sniffer.feed(data)
        if sniffer.chain is not None:
            assert isinstance(sniffer.chain, list)
    except HandshakeSniffError:
        pass


@pytest.mark.parametrize("body", [b"", b"\x00\x00\x05\x00\x00\x01", b"\x00\x00\x03\x00\x00\x00",
                                  b"\x00\x00\x04\x00\x00\x05\x01"])
def test_bad_certificate_messages(body):
    with pytest.raises(HandshakeSniffError):
        parse_certificate_message(body)
