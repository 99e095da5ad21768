"""Fixtures: the IoT Central emulator on real HTTPS (loopback, ephemeral port), a local CA,
and clients with a tiny retry policy whose sleeps are recorded."""

from __future__ import annotations

import time

import pytest

from certbench.core.emulators.iotcentral import run_emulator
from certbench.core.http import RetryPolicy
from certbench.core.iotcentral import ApiCredential, IoTCentralClient

FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.04, max_retry_after=0.3)


@pytest.fixture
def emulator(tmp_path):
    with run_emulator(ca_dir=tmp_path / "emulator") as emu:
        yield emu


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(emulator, sleeps):
    made = []

    def make(token: str | None = None, kind: str = "api-token", **kwargs):
        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            time.sleep(seconds)

        kwargs.setdefault("retry", FAST_RETRY)
        kwargs.setdefault("sleep", sleep)
        client = IoTCentralClient(emulator.base_url, ApiCredential(token or emulator.token, kind),
                                  ca_file=emulator.ca_file, timeout=10, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def raw(emulator):
    """Plain HTTP requests to the emulator, for what the client would never send."""
    import ssl

    import httpx

    http = httpx.Client(base_url=emulator.base_url, verify=ssl.create_default_context(cafile=str(emulator.ca_file)),
                        timeout=10)

    def send(method: str, path: str, *, json=None, content=None, headers=None, params=None, token=None):
        query = {"api-version": "2022-07-31"} if params is None else params
        merged = {"Authorization": emulator.token if token is None else token, **(headers or {})}
        if not merged["Authorization"]:
            del merged["Authorization"]  # token="" sends none
        return http.request(method, path, json=json, content=content, headers=merged, params=query)

    yield send
    http.close()
