"""Fixtures: a Sectigo emulator per test on real HTTPS."""

from __future__ import annotations

import pytest
from sectigo_bench import Bench

from certbench.core.emulators.httpserver import EmulatorServer
from certbench.core.emulators.sectigo import SectigoEmulator
from certbench.core.emulators.tls import EmulatorCA


@pytest.fixture
def bench(tmp_path, memory_keyring):
    tls = EmulatorCA("Sectigo emulator TLS CA")
    ca_file = tls.write_pem(tmp_path / "emulator-ca.pem")
    app = SectigoEmulator(ca_directory=tmp_path / "emulator-ca")
    with EmulatorServer(app, tls=tls, client_cas=[tls.certificate]) as server:
        b = Bench(app, server, tls, ca_file, tmp_path)
        yield b
        for client in b.clients:
            client.close()
    app.close()
