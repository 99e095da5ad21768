"""Faults on the line and in the instrument. After each, the instrument holds either its
complete previous identity or the complete new one, never a mix, and provisioning again
finishes the job."""

from __future__ import annotations

import random
import time

import pytest

from certbench.core.emulators.instrument import Faults, LineConfig
from certbench.core.emulators.instrument.store import SAVE_POINTS
from certbench.core.errors import InstrumentError
from certbench.core.instrument import Result, Store
from certbench.core.instrument.canonical import canonical_certificates, key_hash, sha256
from certbench.core.instrument.errors import InstrumentDisconnected, InstrumentNoAnswer, InstrumentRefused
from certbench.core.instrument.framing import FrameDecoder, crc32, cobs_encode, encode_frame
from certbench.core.instrument.protocol import Cmd, HelloRequest, Request, parse_response

MAX_STEPS = 40  # requests in one provisioning run with the small PKI; checked below


@pytest.fixture
def plan(small_pki, identities):
    """Old identity: trust = root only. New identity: trust = root + intermediate, other key."""
    old_key, old_chain = identities["old"]
    new_key, new_chain = identities["new"]
    old = (small_pki.roots, old_chain, old_key)
    new = (small_pki.trust, new_chain, new_key)

    def expected(identity):
        trust, chain, key = identity
        return {Store.TRUST: sha256(canonical_certificates(trust)), Store.CHAIN: sha256(canonical_certificates(chain)),
                Store.KEY: key_hash(key)}

    return {"old": old, "new": new, "old_hashes": expected(old), "new_hashes": expected(new)}


def _provisioned_sim(make_sim, connect, plan, **kwargs):
    sim = make_sim(keygen=False, **kwargs)
    connect(sim).provision(*plan["old"])
    return sim


def _assert_whole(sim, connect, plan) -> str:
    """Power-cycle, then read back: the live stores are exactly the old or exactly the new set."""
    sim.reboot()
    inst = connect(sim)
    live = inst.hashes()
    if live == plan["old_hashes"]:
        inst.verify_possession(plan["old"][1][0])
        return "old"
    assert live == plan["new_hashes"], "the instrument holds a mix of old and new credentials"
    inst.verify_possession(plan["new"][1][0])
    return "new"


def test_a_clean_run_fits_in_the_parametrised_steps(make_sim, connect, plan):
    sim = _provisioned_sim(make_sim, connect, plan)
    before = sim.stats.requests
    connect(sim).provision(*plan["new"])
    steps = sim.stats.requests - before
    assert 10 < steps <= MAX_STEPS


@pytest.mark.parametrize("after_handling", [False, True], ids=["request-lost", "answer-lost"])
@pytest.mark.parametrize("step", range(1, MAX_STEPS + 1))
def test_cable_pulled_at_every_step_of_transfer_and_commit(make_sim, connect, plan, step, after_handling):
    sim = _provisioned_sim(make_sim, connect, plan)
    sim.faults.disconnect_at = sim.stats.requests + step
    sim.faults.disconnect_after_handling = after_handling
    try:
        connect(sim).provision(*plan["new"])
        interrupted = False
    except InstrumentDisconnected:
        interrupted = True
    sim.faults.disconnect_at = None  # a step beyond this run's last request never fired
    state = _assert_whole(sim, connect, plan)
    if not interrupted:
        assert state == "new"
    # Resume: a second attempt completes, whatever the first one left.
    result = connect(sim).provision(*plan["new"])
    assert _assert_whole(sim, connect, plan) == "new"
    if state == "new":
        assert result.already_provisioned


@pytest.mark.parametrize("point", SAVE_POINTS)
def test_power_loss_inside_commit(make_sim, connect, plan, point):
    sim = _provisioned_sim(make_sim, connect, plan)
    sim.faults.power_loss_at = f"commit:{point}"
    with pytest.raises(InstrumentNoAnswer):
        connect(sim, max_retries=0).provision(*plan["new"])  # give up at once, to look inside
    state = _assert_whole(sim, connect, plan)
    assert state == ("new" if point == "replaced" else "old")
    connect(sim).provision(*plan["new"])
    assert _assert_whole(sim, connect, plan) == "new"


@pytest.mark.parametrize("point", SAVE_POINTS)
def test_power_loss_inside_commit_is_recovered_by_the_host(make_sim, connect, plan, point):
    sim = _provisioned_sim(make_sim, connect, plan)
    sim.faults.power_loss_at = f"commit:{point}"
    connect(sim).provision(*plan["new"])
    assert sim.stats.reboots == 1
    assert _assert_whole(sim, connect, plan) == "new"


def test_reboot_mid_transfer_is_recovered_transparently(make_sim, connect, plan):
    sim = _provisioned_sim(make_sim, connect, plan)
    sim.faults.reboot_at = sim.stats.requests + 9
    inst = connect(sim)
    inst.provision(*plan["new"])
    assert sim.stats.reboots == 1
    assert _assert_whole(sim, connect, plan) == "new"


@pytest.mark.parametrize("ber", [1e-4, 1e-3])
def test_bit_errors(make_sim, connect, plan, ber):
    sim = _provisioned_sim(make_sim, connect, plan)
    sim.line.bit_error_rate = ber
    sim.line.seed = 7
    inst = connect(sim, response_timeout=0.2)
    inst.provision(*plan["new"])
    sim.line.bit_error_rate = 0
    assert _assert_whole(sim, connect, plan) == "new"
    if ber >= 1e-3:
        assert sim.stats.bit_flips > 0
        assert inst.link.stats.retransmits + inst.link.stats.fast_retransmits > 0


def test_dropped_bytes(make_sim, connect, plan):
    sim = make_sim(keygen=False, line=LineConfig(drop_rate=2e-3, seed=3))
    connect(sim, response_timeout=0.2).provision(*plan["new"])
    sim.line.drop_rate = 0
    assert sim.stats.dropped > 0
    assert _assert_whole(sim, connect, plan) == "new"


class _Garbler:
    """Wraps a transport and adds line noise bursts around frames in both directions."""

    def __init__(self, inner, seed=1):
        self.inner = inner
        self.description = inner.description
        self.rng = random.Random(seed)

    def _garbage(self) -> bytes:
        return bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 20)))

    def write(self, data):
        self.inner.write(self._garbage() + data if self.rng.random() < 0.3 else data)

    def read_some(self, timeout):
        data = self.inner.read_some(timeout)
        return self._garbage() + data + self._garbage() if data and self.rng.random() < 0.3 else data

    def close(self):
        self.inner.close()


def test_garbage_before_and_between_frames(make_sim, plan):
    from certbench.core.instrument import Instrument

    sim = make_sim(keygen=False)
    inst = Instrument(_Garbler(sim.connect()), response_timeout=0.2)
    try:
        inst.provision(*plan["new"])
    finally:
        inst.close()
    assert sim.stats.decoder.garbage_bytes > 0


def test_never_answers_gives_a_bounded_clear_error(make_sim, connect):
    sim = make_sim(faults=Faults(silent=True))
    with pytest.raises(InstrumentNoAnswer) as exc:
        connect(sim, response_timeout=0.1, max_retries=2).hello()
    assert "cable" in exc.value.hint and "power" in exc.value.hint


def test_oversize_answer_is_discarded_and_the_request_repeated(make_sim, connect):
    sim = make_sim(faults=Faults(oversize_answer_at=2))
    inst = connect(sim, response_timeout=0.1)
    inst.hello()
    assert inst.status() is not None  # answered from the replay cache after the retransmission
    assert inst.link.decoder.stats.oversize == 1


def test_stale_sequence_numbers_are_ignored(make_sim, connect, plan):
    sim = make_sim(keygen=False, faults=Faults(stale_answers=True))
    inst = connect(sim)
    inst.provision(*plan["new"])
    assert inst.link.stats.stale_responses > 0
    assert _assert_whole(sim, connect, plan) == "new"


def test_unknown_command(make_sim, connect):
    inst = connect(make_sim())
    inst.hello()
    with pytest.raises(InstrumentRefused) as exc:
        inst.link.request(0x55, b"")
    assert exc.value.result == Result.UNKNOWN_COMMAND
    assert "firmware" in exc.value.hint


def _raw_answers(end, wire: bytes, expect: int) -> list:
    end.write(wire)
    decoder, out = FrameDecoder(), []
    for _ in range(50):
        out += [parse_response(p) for p in decoder.feed(end.read_some(0.1))]
        if len(out) >= expect:
            break
    return out


def test_instrument_discards_oversize_and_bad_crc_frames_and_stays_in_step(make_sim):
    sim = make_sim()
    end = sim.connect()
    hello = encode_frame(Request(Cmd.HELLO, 1, HelloRequest().encode()).to_bytes())
    too_big = encode_frame(Request(Cmd.SIGN, 2, bytes(range(1, 250)) * 2).to_bytes())
    payload = Request(Cmd.STATUS, 3, b"").to_bytes()
    bad_crc = cobs_encode(payload + (crc32(payload) ^ 0xFF).to_bytes(4, "big")) + b"\x00"
    status = encode_frame(Request(Cmd.STATUS, 4, b"").to_bytes())
    answers = _raw_answers(end, hello, expect=1)
    for i in range(0, len(too_big), 64):  # slowly, so that only the frame limit is exceeded, not the buffer
        end.write(too_big[i : i + 64])
        time.sleep(0.01)
    answers += _raw_answers(end, bad_crc + status, expect=1)
    assert [(a.cmd, a.seq, a.result) for a in answers] == [(Cmd.HELLO, 1, Result.OK), (Cmd.STATUS, 4, Result.OK)]
    assert sim.stats.decoder.oversize == 1 and sim.stats.decoder.crc_errors == 1
    end.close()


def test_duplicate_request_is_answered_from_the_replay_cache_not_executed_twice(make_sim):
    sim = make_sim()
    end = sim.connect()
    hello = encode_frame(Request(Cmd.HELLO, 1, HelloRequest().encode()).to_bytes())
    keygen = encode_frame(Request(Cmd.KEYGEN, 2, bytes([1, 0, 1, 1, 1]) + b"u").to_bytes())
    answers = _raw_answers(end, hello + keygen + keygen, expect=3)
    assert answers[1].result == Result.OK and answers[1] == answers[2]  # same CSR: one key made
    end.close()


def test_host_never_sends_more_than_the_instrument_can_hold(make_sim, connect, plan):
    sim = make_sim(keygen=False, flash_delay=0.003)
    connect(sim).provision(*plan["new"])
    assert sim.stats.overruns == 0
    # The check is meaningful: a host that ignores the window does overrun this instrument.
    end = sim.connect()
    frames = b"".join(encode_frame(Request(Cmd.HELLO, i, HelloRequest().encode() + bytes(200)).to_bytes()) for i in range(10))
    end.write(frames)
    _raw_answers(end, b"", expect=1)
    assert sim.stats.overruns > 0
    end.close()


def test_host_refuses_to_send_a_frame_larger_than_announced(make_sim, connect):
    sim = make_sim()
    inst = connect(sim)
    inst.hello()
    before = sim.stats.requests
    with pytest.raises(InstrumentError) as exc:
        inst.link.request(Cmd.SIGN, bytes(600))
    assert "larger than the instrument accepts" in exc.value.message
    assert sim.stats.requests == before


def test_keygen_answer_lost_then_resumed_with_the_same_key(make_sim, connect, small_pki):
    sim = make_sim()
    connect(sim).hello()
    sim.faults.disconnect_at = sim.stats.requests + 2  # HELLO, then KEYGEN: acted on, answer lost
    sim.faults.disconnect_after_handling = True
    with pytest.raises(InstrumentDisconnected):
        connect(sim).keygen("ec-p256", "unit-9")
    csr = connect(sim).keygen("ec-p256", "unit-9", reuse=True)
    leaf = small_pki.issue_for_csr(csr)
    inst = connect(sim)
    inst.provision(small_pki.trust, small_pki.chain_for(leaf))
    assert inst.hashes()[Store.KEY] == key_hash(leaf.public_key())


class _FakeLine:
    """A port with something other than an instrument behind it: `reply(data)` gives what
    comes back for what was written."""

    description = "test-port"

    def __init__(self, reply) -> None:
        self.reply = reply
        self._pending = b""

    def write(self, data: bytes) -> None:
        self._pending += self.reply(data)

    def read_some(self, timeout: float) -> bytes:
        out, self._pending = self._pending, b""
        if not out:
            time.sleep(min(timeout, 0.01))
        return out

    def close(self) -> None:
        pass


def test_an_echoing_port_is_told_apart_from_a_silent_one():
    from certbench.core.instrument import Instrument

    inst = Instrument(_FakeLine(lambda data: data), response_timeout=0.05, max_retries=2)
    with pytest.raises(InstrumentNoAnswer) as exc:
        inst.hello()
    assert "sends back what Certbench sends" in exc.value.message
    assert "certbench instrument ports" in exc.value.hint


def test_bytes_that_are_not_frames_point_at_the_baud_rate_and_give_up_as_soon_as_silence():
    from certbench.core.instrument import Instrument

    rng = random.Random(7)
    inst = Instrument(_FakeLine(lambda data: bytes(rng.randrange(256) for _ in range(200))),
                      response_timeout=0.05, max_retries=2)
    with pytest.raises(InstrumentNoAnswer) as exc:
        inst.hello()
    assert "not in the provisioning protocol" in exc.value.message
    # Damaged "frames" from something that never answered validly are no noisy instrument:
    # no extended patience (3 attempts with max_retries=2, not 4 times as many).
    assert "3 attempts" in exc.value.message
    assert "baud rate" in exc.value.hint


def test_an_instrument_busy_for_ever_is_given_up_within_the_commands_bound(make_sim, connect, small_pki, identities):
    from certbench.core.instrument.protocol import RegisterResponse, RegisterStatus

    def stuck(request, certs, key):
        time.sleep(1.5)
        return RegisterResponse(RegisterStatus.ASSIGNED, "hub", "unit-old", "")

    sim = make_sim(keygen=False, register_handler=stuck)
    inst = connect(sim)
    key, chain = identities["old"]
    inst.provision(small_pki.trust, chain, key)
    inst.link.busy_limits[Cmd.REGISTER] = 0.5
    started = time.monotonic()
    with pytest.raises(InstrumentNoAnswer) as exc:
        inst.register("0ne000ABCDE")
    assert time.monotonic() - started < 1.4  # gave up while IN_PROGRESS kept coming
    assert "working on REGISTER for more than" in exc.value.message
    assert "Power-cycle" in exc.value.hint


def test_a_slow_command_is_kept_alive_by_in_progress_not_retransmitted(make_sim, connect, small_pki, identities):
    # The simulator must send IN_PROGRESS while it works (spec 5.4), not after: otherwise a
    # registration longer than the retransmission budget looks like a dead instrument.
    from certbench.core.instrument.protocol import RegisterResponse, RegisterStatus

    def slow(request, certs, key):
        time.sleep(1.5)
        return RegisterResponse(RegisterStatus.ASSIGNED, "hub", "unit-old", "")

    sim = make_sim(keygen=False, register_handler=slow)
    inst = connect(sim, max_retries=1)
    key, chain = identities["old"]
    inst.provision(small_pki.trust, chain, key)
    retransmits = inst.link.stats.retransmits
    assert inst.register("0ne000ABCDE").status == RegisterStatus.ASSIGNED
    assert inst.link.stats.retransmits == retransmits
