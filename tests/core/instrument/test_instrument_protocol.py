"""Message layouts: round trips, and arbitrary bytes are either parsed or refused with
MessageError, on both sides (host parser and instrument parser)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certbench.core.errors import CertbenchError
from certbench.core.instrument import protocol as p
from certbench.core.instrument.framing import encode_frame
from certbench.core.instrument.link import Link

DECODERS = [
    p.HelloRequest.decode, p.HelloInfo.decode, p.StatusInfo.decode, p.KeygenRequest.decode,
    p.KeygenResponse.decode, p.BeginRequest.decode, p.WriteRequest.decode, p.decode_received,
    p.decode_hashes, p.SignResponse.decode, p.RegisterRequest.decode, p.RegisterResponse.decode,
    p.CommitResponse.decode, p.parse_request, p.parse_response,
]


def test_round_trips():
    info = p.HelloInfo(1, 256, 256, 8, 0xDEADBEEF, p.StateFlag.PENDING_KEY, p.Capability.KEYGEN | p.Capability.LOCK,
                       "MC-100", "SN-1", "2.3.4", (p.Alg.EC_P256, p.Alg.RSA_2048), {p.Store.TRUST: 8192, p.Store.CHAIN: 4096})
    assert p.HelloInfo.decode(info.encode()) == info
    keygen = p.KeygenRequest(p.Alg.EC_P384, ((p.SubjectAttr.CN, "unit-1"), (p.SubjectAttr.O, "MediCorp")), p.KEYGEN_REUSE)
    assert p.KeygenRequest.decode(keygen.encode()) == keygen
    begin = p.BeginRequest(7, p.Store.CHAIN, 1234, bytes(range(32)), p.BEGIN_RESTART)
    assert p.BeginRequest.decode(begin.encode()) == begin
    write = p.WriteRequest(7, 0xABCDEF, b"\x00\x01data")
    assert p.WriteRequest.decode(write.encode()) == write
    reg = p.RegisterRequest("0ne00ABCDEF", "global.azure-devices-provisioning.net", bytes(32))
    assert p.RegisterRequest.decode(reg.encode()) == reg
    answer = p.RegisterResponse(p.RegisterStatus.ASSIGNED, "hub.azure-devices.net", "unit-1", "ok")
    assert p.RegisterResponse.decode(answer.encode()) == answer
    status = p.StatusInfo(p.StateFlag.STAGED, 0, (p.StoreStatus(1, 10, 20, 5, 3, False),))
    assert p.StatusInfo.decode(status.encode()) == status
    hashes = [p.StoreHash(1, True, bytes(range(32))), p.StoreHash(3, False, bytes(32))]
    assert p.decode_hashes(p.encode_hashes(hashes)) == hashes
    response = p.Response(p.Cmd.HASH, 0xFFFF, p.Result.OK, b"x")
    assert p.parse_response(response.to_bytes()) == response


def test_trailing_bytes_and_truncation_are_refused():
    body = p.HelloRequest().encode()
    with pytest.raises(p.MessageError):
        p.HelloRequest.decode(body + b"\x00")
    with pytest.raises(p.MessageError):
        p.HelloRequest.decode(body[:-1])
    with pytest.raises(p.MessageError):
        p.WriteRequest(1, 1 << 24, b"").encode()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_every_decoder_either_parses_or_raises_message_error(data):
    for decode in DECODERS:
        try:
            decode(data)
        except p.MessageError:
            pass


class _ScriptedLine:
    """A transport whose 'instrument' answers with whatever bytes the test supplies."""

    description = "fuzz line"

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.written = bytearray()

    def write(self, data: bytes) -> None:
        self.written += data

    def read_some(self, timeout: float) -> bytes:
        out, self.answer = self.answer, b""
        if not out:
            time.sleep(min(timeout, 0.001))
        return out


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=80),
                          st.builds(lambda seq, body: encode_frame(bytes([0x81]) + seq.to_bytes(2, "big") + body),
                                    st.integers(0, 0xFFFF), st.binary(max_size=60))), max_size=5))
def test_fuzz_host_never_crashes_on_arbitrary_answers(parts):
    link = Link(_ScriptedLine(b"".join(parts)), response_timeout=0.005, max_retries=0)
    try:
        link.request(p.Cmd.HELLO, p.HelloRequest().encode(), check=False)
    except CertbenchError:
        pass  # no answer / refused / violation: all reported as instrument errors
