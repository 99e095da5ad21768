"""Fixtures: IoT Central emulator on real HTTPS, a local CA, a client with a tiny retry policy."""

from __future__ import annotations

import time

import pytest

from certbench.core.config import default_settings
from certbench.core.emulators.iotcentral import run_emulator
from certbench.core.http import RetryPolicy
from certbench.core.iotcentral import ApiCredential, IoTCentralClient

FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.04, max_retry_after=0.3)


@pytest.fixture
def emulator(tmp_path):
    with run_emulator(ca_dir=tmp_path / "emulator") as emu:
        yield emu


@pytest.fixture
def make_client(emulator):
    made = []

    def make(token: str | None = None):
        client = IoTCentralClient(emulator.base_url, ApiCredential(token or emulator.token), ca_file=emulator.ca_file,
                                  timeout=10, retry=FAST_RETRY, sleep=time.sleep)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def intermediates():
    """The default configuration: four intermediates, paired into two groups."""
    return default_settings().intermediates
