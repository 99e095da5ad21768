"""The specification's worked examples are the encoder's real output, and decode back."""

from __future__ import annotations

from pathlib import Path

from certbench.core.instrument import spec_examples
from certbench.core.instrument.framing import FrameDecoder, encode_frame
from certbench.core.instrument.protocol import Request, parse_request, parse_response

SPEC = Path(__file__).resolve().parents[3] / "docs" / "instrument-protocol.md"


def test_spec_examples_are_current():
    text = SPEC.read_text("utf-8")
    assert spec_examples.splice(text) == text, (
        "docs/instrument-protocol.md is out of date: run "
        "python -m certbench.core.instrument.spec_examples --write docs/instrument-protocol.md"
    )


def test_spec_wire_dumps_decode_to_their_messages():
    text = SPEC.read_text("utf-8")
    dumps = []
    for block in text.split("On the wire")[1:]:
        body = block.split("```")[1]
        dumps.append(bytes.fromhex("".join(line[6:] for line in body.strip().splitlines())))
    assert len(dumps) >= 10
    for wire in dumps:
        (payload,) = list(FrameDecoder().feed(wire))
        assert encode_frame(payload) == wire
        message = parse_response(payload) if payload[0] & 0x80 else parse_request(payload)
        assert isinstance(message, Request) or message.seq >= 0
