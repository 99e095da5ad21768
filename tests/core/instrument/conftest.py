"""Fixtures for the instrument link tests: sample PKIs and simulators that are always closed."""

from __future__ import annotations

import pytest

from certbench.core.emulators.instrument import SimulatedInstrument
from certbench.core.emulators.instrument.sample_pki import SamplePki
from certbench.core.instrument import Instrument
from certbench.core.x509.keys import generate_key


@pytest.fixture(scope="session")
def pki() -> SamplePki:
    return SamplePki.create()


@pytest.fixture(scope="session")
def small_pki() -> SamplePki:
    return SamplePki.create(small=True)


@pytest.fixture(scope="session")
def identities(small_pki):
    """Two complete identities (key, chain) from the small PKI: 'old' and 'new'."""
    out = {}
    for name in ("old", "new"):
        key = generate_key("ec-p256")
        out[name] = (key, small_pki.chain_for(small_pki.issue(key, f"unit-{name}")))
    return out


@pytest.fixture
def make_sim(tmp_path):
    made: list[SimulatedInstrument] = []

    def make(**kwargs) -> SimulatedInstrument:
        kwargs.setdefault("store_dir", tmp_path / "sim")
        sim = SimulatedInstrument(**kwargs)
        made.append(sim)
        return sim

    yield make
    for sim in made:
        sim.close()


@pytest.fixture
def connect():
    opened: list[Instrument] = []

    def open_(sim: SimulatedInstrument, **kwargs) -> Instrument:
        kwargs.setdefault("response_timeout", 0.3)
        inst = Instrument(sim.connect(), **kwargs)
        opened.append(inst)
        return inst

    yield open_
    for inst in opened:
        inst.close()
