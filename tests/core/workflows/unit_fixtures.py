"""Shared pieces of the unit-workflow tests: the emulators and simulators of demo mode in
this process (IoT Central, Sectigo, optionally DPS), a BenchEnv on them, fast options."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes

from certbench.core.demo import DemoServices
from certbench.core.http import RetryPolicy
from certbench.core.instrument.canonical import key_hash
from certbench.core.instrument.protocol import Store
from certbench.core.pki.sectigo.client import SectigoClient
from certbench.core.pki.sectigo.issuer import SectigoIssuer
from certbench.core.workflows.unit_steps import ProvisionOptions

FAST = ProvisionOptions(collect_poll_interval=0.02, collect_poll_max_interval=0.05, collect_limit_seconds=10)
FAST_RETRY = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02, max_retry_after=0.05)


def fast_issuer(settings) -> SectigoIssuer:
    client = SectigoClient.from_settings(settings.sectigo, retry=FAST_RETRY)
    return SectigoIssuer.from_settings(settings, client=client, poll_interval=0.02, poll_max_interval=0.05)


def make_env(demo: DemoServices, **kwargs):
    """A BenchEnv on `demo` as a fresh process would build it (no workstation keys held)."""
    kwargs.setdefault("issuer", fast_issuer(demo.settings))
    env = demo.bench_env(operator="tester", **kwargs)
    env._owned.append(kwargs["issuer"])
    return env


def orders_for(demo: DemoServices, cn: str) -> list:
    """The Sectigo emulator's orders for `cn`, oldest first: what was really ordered."""
    return sorted((o for o in demo.sectigo.app.orders.values() if o.common_name == cn), key=lambda o: o.id)


def assert_installed(demo: DemoServices, port: str, env, cn: str) -> None:
    """The instrument holds exactly the unit's recorded certificate, live, with its key."""
    from certbench.core.instrument.client import Instrument

    cert = env.registry.current_certificate(cn)
    assert cert is not None and cert.status == "installed"
    issued = env.issuer.collect(cert.intermediate, cert.order_id, wait=False)
    assert issued.certificate.fingerprint(hashes.SHA256()).hex() == cert.sha256
    with Instrument(demo.open_transport(port)) as inst:
        inst.hello()
        live = inst.hashes()
        assert live[int(Store.KEY)] == key_hash(issued.certificate.public_key())
        inst.verify_possession(issued.certificate)  # raises unless the instrument holds the key


@pytest.fixture
def demo(tmp_path):
    with DemoServices(tmp_path / "demo", dps=False) as services:
        yield services


@pytest.fixture
def env(demo):
    bench = make_env(demo)
    yield bench
    bench.close()
