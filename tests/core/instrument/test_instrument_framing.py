"""Framing: COBS, CRC-32, resynchronisation, bounded memory; fuzzed with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certbench.core.instrument.framing import (
    FrameDecoder,
    cobs_decode,
    cobs_encode,
    crc32,
    encode_frame,
    encoded_size,
    max_raw_for_wire,
)


def test_crc32_is_the_ieee_polynomial():
    assert crc32(b"123456789") == 0xCBF43926  # the catalogue check value of CRC-32/ISO-HDLC


@given(st.binary(max_size=1200))
def test_cobs_round_trip_and_no_zero_inside(data):
    encoded = cobs_encode(data)
    assert 0 not in encoded
    assert cobs_decode(encoded) == data
    assert len(encoded) + 1 == encoded_size(len(data))


@pytest.mark.parametrize("n", [0, 1, 253, 254, 255, 508, 600])
def test_max_raw_for_wire_is_tight(n):
    wire = encoded_size(n)
    assert max_raw_for_wire(wire) >= n
    assert encoded_size(max_raw_for_wire(wire)) <= wire
    assert encoded_size(max_raw_for_wire(wire) + 1) > wire


def test_decoder_resynchronises_after_garbage_before_and_between_frames():
    frames = [b"\x01\x00\x07hello", b"\x02\x00\x08", bytes(range(256))]
    stream = b"\xff\x13garbage\x00\x00" + encode_frame(frames[0]) + b"noise\x01\x02\x00" + encode_frame(frames[1])
    stream += b"\x00\x00\x00" + encode_frame(frames[2])
    decoder = FrameDecoder()
    assert list(decoder.feed(stream)) == frames
    assert decoder.stats.frames == 3
    assert decoder.stats.garbage_bytes > 0


def test_garbage_glued_to_a_frame_costs_only_that_frame():
    # Without a delimiter between them, garbage and frame are one damaged frame (the link
    # retransmits it); the decoder is back in step for the frame after.
    frames = [b"\x01\x00\x07one", b"\x01\x00\x08two"]
    decoder = FrameDecoder()
    got = list(decoder.feed(b"\x11\x22" + encode_frame(frames[0]) + encode_frame(frames[1])))
    assert got == [frames[1]]


def test_decoder_handles_a_frame_split_in_every_possible_place():
    wire = encode_frame(b"\x05\x12\x34" + b"\x00" * 40 + b"data")
    for cut in range(len(wire) + 1):
        decoder = FrameDecoder()
        got = list(decoder.feed(wire[:cut])) + list(decoder.feed(wire[cut:]))
        assert got == [b"\x05\x12\x34" + b"\x00" * 40 + b"data"]


def test_wrong_crc_is_rejected_and_counted():
    payload = b"\x81\x00\x01\x00abc"
    raw = payload + ((crc32(payload) ^ 1).to_bytes(4, "big"))
    decoder = FrameDecoder()
    assert list(decoder.feed(cobs_encode(raw) + b"\x00" + encode_frame(payload))) == [payload]
    assert decoder.stats.crc_errors == 1


def test_every_single_bit_flip_is_caught():
    wire = encode_frame(b"\x85\x01\x02\x00" + bytes(range(1, 100)))
    for i in range(len(wire) - 1):
        for bit in range(8):
            damaged = bytearray(wire)
            damaged[i] ^= 1 << bit
            decoder = FrameDecoder()
            assert list(decoder.feed(bytes(damaged) + b"\x00")) == []


def test_oversize_frame_is_skipped_with_bounded_memory_then_next_frame_accepted():
    decoder = FrameDecoder(max_wire=64)
    big = encode_frame(b"\x01" * 100)
    good = encode_frame(b"\x01\x00\x01")
    got = list(decoder.feed(big + good))
    assert got == [b"\x01\x00\x01"]
    assert decoder.stats.oversize == 1
    assert len(decoder._buf) == 0


def test_frame_of_exactly_the_limit_is_accepted():
    payload = b"\x02" * (max_raw_for_wire(64) - 4)
    wire = encode_frame(payload)
    assert len(wire) == 64
    assert list(FrameDecoder(max_wire=64).feed(wire)) == [payload]
    assert list(FrameDecoder(max_wire=63).feed(wire)) == []


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=300), st.builds(encode_frame, st.binary(max_size=200))), max_size=8),
       st.integers(min_value=16, max_value=512))
def test_fuzz_arbitrary_bytes_never_crash_and_never_yield_a_frame_with_a_wrong_crc(parts, max_wire):
    stream = b"".join(parts)
    decoder = FrameDecoder(max_wire=max_wire)
    for payload in decoder.feed(stream):
        # Only what was really framed with a matching CRC comes out.
        assert encode_frame(payload)[:-1] in stream
        assert len(encode_frame(payload)) <= max_wire


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=0, max_value=7), st.integers(min_value=0, max_value=10_000))
def test_fuzz_single_corruption_of_a_valid_frame_is_never_accepted_as_different_data(payload, bit, pos):
    wire = bytearray(encode_frame(payload))
    pos %= len(wire) - 1
    wire[pos] ^= 1 << bit
    for got in FrameDecoder().feed(bytes(wire)):
        assert got == payload or encode_frame(got)[:-1] in bytes(wire)
