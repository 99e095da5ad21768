"""Frames on the serial line: COBS byte stuffing, a 0x00 delimiter and a CRC-32 per frame.

COBS guarantees that 0x00 never occurs inside an encoded frame, so a receiver that has lost
its place (garbage, a dropped byte, a device that rebooted mid-frame) is back in step at the
next 0x00. The CRC-32 (IEEE 802.3, as zlib computes it) is appended big-endian to the frame
before stuffing; a frame whose CRC does not match is discarded and never reaches the parser.
See docs/instrument-protocol.md, section "Framing".
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

DELIMITER = 0x00
CRC_SIZE = 4


def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def cobs_encode(data: bytes) -> bytes:
    out = bytearray()
    block = bytearray()
    for byte in data:
        if byte == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
        else:
            block.append(byte)
            if len(block) == 254:
                out.append(255)
                out += block
                block.clear()
    out.append(len(block) + 1)
    out += block
    return bytes(out)


class CobsError(ValueError):
    pass


def cobs_decode(data: bytes) -> bytes:
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise CobsError("zero byte inside an encoded block")
        end = i + code
        if end > n:
            raise CobsError("block runs past the end of the frame")
        block = data[i + 1 : end]
        if 0 in block:
            raise CobsError("zero byte inside an encoded block")
        out += block
        i = end
        if code != 255 and i < n:
            out.append(0)
    return bytes(out)


def encoded_size(raw_len: int) -> int:
    """Wire bytes of a frame whose unstuffed length (CRC included) is `raw_len`, with its
    delimiter: COBS adds one byte per started run of 254, and at least one."""
    return raw_len + raw_len // 254 + 1 + 1


def max_raw_for_wire(wire_len: int) -> int:
    """Largest unstuffed length (CRC included) whose encoded frame fits in `wire_len` bytes."""
    raw = max(0, wire_len - 2)
    while raw > 0 and encoded_size(raw) > wire_len:
        raw -= 1
    return raw


def encode_frame(payload: bytes) -> bytes:
    """Append the CRC, stuff, and terminate: exactly the bytes that go on the wire."""
    raw = payload + crc32(payload).to_bytes(CRC_SIZE, "big")
    return cobs_encode(raw) + b"\x00"


@dataclass
class DecoderStats:
    frames: int = 0
    crc_errors: int = 0
    cobs_errors: int = 0
    oversize: int = 0
    runts: int = 0
    garbage_bytes: int = 0


@dataclass
class FrameDecoder:
    """Streaming decoder: feed it whatever the line delivered, get back the CRC-checked
    payloads (CRC stripped). Memory is bounded by `max_wire`: a longer run without a
    delimiter is counted as oversize and skipped up to the next 0x00."""

    max_wire: int = 4096
    stats: DecoderStats = field(default_factory=DecoderStats)
    _buf: bytearray = field(default_factory=bytearray)
    _skipping: bool = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        for chunk in _split_keep(data):
            if chunk == b"\x00":
                yield from self._end_of_frame()
                continue
            if self._skipping:
                self.stats.garbage_bytes += len(chunk)
                continue
            self._buf += chunk
            # The delimiter counts against the limit too, so a frame of exactly max_wire
            # wire bytes is accepted and one byte more is not.
            if len(self._buf) + 1 > self.max_wire:
                self.stats.oversize += 1
                self.stats.garbage_bytes += len(self._buf)
                self._buf.clear()
                self._skipping = True

    def _end_of_frame(self) -> Iterator[bytes]:
        if self._skipping:
            self._skipping = False
            return
        if not self._buf:
            return  # empty frame: a bare delimiter, used to flush the line
        encoded = bytes(self._buf)
        self._buf.clear()
        try:
            raw = cobs_decode(encoded)
        except CobsError:
            self.stats.cobs_errors += 1
            self.stats.garbage_bytes += len(encoded)
            return
        if len(raw) <= CRC_SIZE:
            self.stats.runts += 1
            self.stats.garbage_bytes += len(encoded)
            return
        payload, received = raw[:-CRC_SIZE], int.from_bytes(raw[-CRC_SIZE:], "big")
        if crc32(payload) != received:
            self.stats.crc_errors += 1
            self.stats.garbage_bytes += len(encoded)
            return
        self.stats.frames += 1
        yield payload

    def reset(self) -> None:
        self._buf.clear()
        self._skipping = False


def _split_keep(data: bytes) -> Iterator[bytes]:
    """Split on 0x00, yielding the delimiters as separate items."""
    start = 0
    while True:
        idx = data.find(b"\x00", start)
        if idx < 0:
            if start < len(data):
                yield data[start:]
            return
        if idx > start:
            yield data[start:idx]
        yield b"\x00"
        start = idx + 1
