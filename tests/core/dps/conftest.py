"""Fixtures: the real IoT Central emulator (HTTPS, with its REST client and the CA
verification workflow), a local CA, and DPS emulators on their own 127.x.y.z:8883 each."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import pytest
from cryptography import x509

from certbench.core.emulators.dps import DpsEmulator
from certbench.core.emulators.iotcentral import run_emulator
from certbench.core.http import RetryPolicy
from certbench.core.iotcentral import ApiCredential, IoTCentralClient
from certbench.core.pki.local import LocalCA
from certbench.core.demo import free_loopback_address
from certbench.core.workflows.ca_verification import verify_intermediate
from certbench.core.x509.keys import PrivateKey, generate_key

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.04, max_retry_after=0.3)
INTERMEDIATES = ("medicorp-ica-1", "medicorp-ica-2")


@dataclass
class Unit:
    leaf: x509.Certificate
    key: PrivateKey
    intermediate: x509.Certificate

    @property
    def chain(self) -> list[x509.Certificate]:
        return [self.leaf, self.intermediate]


@pytest.fixture
def local_ca(tmp_path) -> LocalCA:
    return LocalCA(tmp_path / "local-ca", intermediate_names=INTERMEDIATES).ensure()


@pytest.fixture
def central(tmp_path):
    with run_emulator(ca_dir=tmp_path / "iotc") as emu:
        yield emu


@pytest.fixture
def central_client(central):
    client = IoTCentralClient(central.base_url, ApiCredential(central.token), ca_file=central.ca_file,
                              timeout=10, retry=FAST_RETRY)
    yield client
    client.close()


@pytest.fixture
def verified_group(central_client, local_ca) -> str:
    """medicorp-ica-1 proven by possession in group 'medicorp-devices' (the real workflow)."""
    outcome = verify_intermediate(central_client, local_ca, INTERMEDIATES[0], group="medicorp-devices", entry="primary")
    assert outcome.verified
    return "medicorp-devices"


@pytest.fixture
def free_address():
    return free_loopback_address


@pytest.fixture
def intermediates() -> tuple[str, ...]:
    return INTERMEDIATES


@pytest.fixture
def dps_host() -> str:
    return free_loopback_address()


@pytest.fixture
def dps(central, dps_host):
    with DpsEmulator(central.state, host=dps_host) as emulator:
        yield emulator


@pytest.fixture
def make_unit(local_ca):
    def make(cn: str, intermediate: str = INTERMEDIATES[0], **dates) -> Unit:
        key = generate_key()
        leaf = local_ca.sign_leaf(intermediate, key.public_key(), cn, **dates)
        return Unit(leaf, key, local_ca.intermediate(intermediate).certificate)

    return make


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Point the temporary folder at an empty directory, to see what is left behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder
