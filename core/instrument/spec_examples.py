"""Worked examples for docs/instrument-protocol.md, produced by the real encoder so they are
right by construction. A test checks that the document holds exactly this output.

Refresh the document: python -m certbench.core.instrument.spec_examples --write docs/instrument-protocol.md
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from certbench.core.instrument.framing import CRC_SIZE, cobs_encode, crc32, encode_frame
from certbench.core.instrument.protocol import (
    Alg,
    BeginRequest,
    Capability,
    Cmd,
    CommitResponse,
    HelloInfo,
    HelloRequest,
    KeygenRequest,
    Request,
    Response,
    Result,
    StateFlag,
    Store,
    SubjectAttr,
    WriteRequest,
    encode_received,
)

BEGIN_MARK = "<!-- BEGIN GENERATED EXAMPLES -->"
END_MARK = "<!-- END GENERATED EXAMPLES -->"


def _hex(data: bytes) -> str:
    lines = []
    for i in range(0, len(data), 16):
        chunk = data[i : i + 16]
        lines.append(f"{i:04x}  " + " ".join(f"{b:02x}" for b in chunk))
    return "\n".join(lines)


def _example(title: str, explanation: str, payload: bytes) -> str:
    raw = payload + crc32(payload).to_bytes(CRC_SIZE, "big")
    wire = encode_frame(payload)
    return (
        f"### {title}\n\n{explanation}\n\n"
        f"Frame before stuffing ({len(payload)} bytes + CRC-32 `{crc32(payload):08x}`):\n\n```\n{_hex(raw)}\n```\n\n"
        f"On the wire ({len(wire)} bytes, COBS + delimiter):\n\n```\n{_hex(wire)}\n```\n"
    )


def generate() -> str:
    content = b"-----BEGIN CERTIFICATE-----\nMIIB...\n"  # the first bytes of a trust store
    digest = hashlib.sha256(b"example trust store").digest()
    hello_info = HelloInfo(
        1, 256, 256, 8, 0x1A2B3C4D, StateFlag(0), Capability.KEYGEN | Capability.LOCK, "MC-100", "SN0042", "1.4.2",
        (Alg.EC_P256, Alg.RSA_2048), {Store.TRUST: 16384, Store.CHAIN: 8192},
    )
    parts = [
        _example(
            "HELLO request (seq 0x1234)",
            "Host offers protocol versions 1..1 and accepts answers up to 4096 wire bytes.",
            Request(Cmd.HELLO, 0x1234, HelloRequest(1, 1, 4096).encode()).to_bytes(),
        ),
        _example(
            "HELLO response",
            "Version 1, receive buffer 256, max frame 256, replay depth 8, boot id 0x1a2b3c4d, no state flags, "
            "capabilities KEYGEN|LOCK, model `MC-100`, serial `SN0042`, firmware `1.4.2`, algorithms EC P-256 and "
            "RSA-2048, stores TRUST (16384 bytes) and CHAIN (8192 bytes).",
            Response(Cmd.HELLO, 0x1234, Result.OK, hello_info.encode()).to_bytes(),
        ),
        _example(
            "KEYGEN request (seq 0x1235)",
            "EC P-256, no flags, subject CN=`unit-0042`.",
            Request(Cmd.KEYGEN, 0x1235, KeygenRequest(Alg.EC_P256, ((SubjectAttr.CN, "unit-0042"),)).encode()).to_bytes(),
        ),
        _example(
            "STAGE_BEGIN request (seq 0x1236)",
            "Transfer id 0x2a, store TRUST, no flags, 1000 bytes, SHA-256 of the content.",
            Request(Cmd.STAGE_BEGIN, 0x1236, BeginRequest(0x2A, Store.TRUST, 1000, digest).encode()).to_bytes(),
        ),
        _example(
            "STAGE_BEGIN response",
            "OK, the instrument holds 0 bytes of this content (a resumed transfer would show more).",
            Response(Cmd.STAGE_BEGIN, 0x1236, Result.OK, encode_received(0)).to_bytes(),
        ),
        _example(
            "STAGE_WRITE request (seq 0x1237)",
            "Transfer 0x2a, offset 0, the first 39 bytes. Note how COBS removes the zero bytes of the header.",
            Request(Cmd.STAGE_WRITE, 0x1237, WriteRequest(0x2A, 0, content).encode()).to_bytes(),
        ),
        _example(
            "STAGE_WRITE response",
            "OK, the instrument now holds 39 bytes.",
            Response(Cmd.STAGE_WRITE, 0x1237, Result.OK, encode_received(len(content))).to_bytes(),
        ),
        _example(
            "STAGE_WRITE response OFFSET_GAP",
            "A write beyond what the instrument holds (its predecessor was lost): go back to offset 228.",
            Response(Cmd.STAGE_WRITE, 0x1239, Result.OFFSET_GAP, encode_received(228)).to_bytes(),
        ),
        _example(
            "COMMIT request (seq 0x1240) and its IN_PROGRESS and final responses",
            "COMMIT carries one reserved flags byte (0). While the flash is written, the instrument repeats "
            "IN_PROGRESS (below); the final answer lists the stores that became live (TRUST, CHAIN).",
            Request(Cmd.COMMIT, 0x1240, b"\x00").to_bytes(),
        ),
        _example("IN_PROGRESS response to COMMIT", "No body.", Response(Cmd.COMMIT, 0x1240, Result.IN_PROGRESS, b"").to_bytes()),
        _example(
            "COMMIT final response",
            "OK, two stores committed: TRUST (0x01) and CHAIN (0x02).",
            Response(Cmd.COMMIT, 0x1240, Result.OK, CommitResponse((Store.TRUST, Store.CHAIN)).encode()).to_bytes(),
        ),
        _example("NO_SESSION response", "The instrument restarted since HELLO: the host says HELLO again and repeats the request.",
                 Response(Cmd.HASH, 0x1241, Result.NO_SESSION, b"").to_bytes()),
    ]
    cobs = bytes([0x11, 0x00, 0x00, 0x22, 0x33, 0x00])
    parts.append(
        "### COBS by itself\n\n"
        f"`{cobs.hex(' ')}` stuffs to `{cobs_encode(cobs).hex(' ')}`: each code byte gives the distance to the next "
        "zero (or to the end of the frame), and the zero itself is dropped.\n"
    )
    return "\n".join(parts)


def splice(document: str) -> str:
    start, end = document.index(BEGIN_MARK) + len(BEGIN_MARK), document.index(END_MARK)
    return document[:start] + "\n\n" + generate() + "\n" + document[end:]


def main(argv: list[str]) -> None:
    if len(argv) == 2 and argv[0] == "--write":
        path = Path(argv[1])
        path.write_text(splice(path.read_text("utf-8")), "utf-8", newline="\n")
    else:
        sys.stdout.write(generate())


if __name__ == "__main__":
    main(sys.argv[1:])
