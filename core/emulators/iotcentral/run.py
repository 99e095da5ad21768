"""Start the IoT Central emulator in this process: for tests, demo mode and
`certbench emulate iotcentral`.

    with run_emulator() as emu:
        client = IoTCentralClient(emu.base_url, ApiCredential(emu.token), ca_file=emu.ca_file)
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from certbench.core import secrets
from certbench.core.emulators.httpserver import EmulatorServer
from certbench.core.emulators.iotcentral.app import IoTCentralApp
from certbench.core.emulators.iotcentral.state import IoTCentralState
from certbench.core.emulators.tls import EmulatorCA

CA_FILE = "iotcentral-emulator-ca.pem"


@dataclass
class RunningEmulator:
    server: EmulatorServer
    app: IoTCentralApp
    state: IoTCentralState
    token: str = field(repr=False)  # an admin API token (the full `SharedAccessSignature ...` value)
    ca_file: Path

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def id_scope(self) -> str:
        return self.state.id_scope

    def stop(self) -> None:
        self.server.stop()


def start_emulator(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    state_dir: Path | str | None = None,
    ca_dir: Path | str | None = None,
) -> RunningEmulator:
    """Serve the emulator over HTTPS on `host`:`port` (loopback only). Its throw-away CA is
    written to `ca_dir` (default: `state_dir`, else a fresh temporary folder) for clients."""
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        raise ValueError("The emulator listens on loopback addresses only.")
    state = IoTCentralState(state_dir)
    app = IoTCentralApp(state)
    tls = EmulatorCA("Certbench IoT Central Emulator CA")
    server = EmulatorServer(app, host=host, port=port, tls=tls)
    folder = Path(ca_dir or state_dir or tempfile.mkdtemp(prefix="certbench-iotc-"))
    ca_file = tls.write_pem(folder / CA_FILE)
    token = state.issue_token()
    secrets.register_secret_value(token)
    server.start()
    return RunningEmulator(server, app, state, token, ca_file)


@contextmanager
def run_emulator(**kwargs: object) -> Iterator[RunningEmulator]:
    emulator = start_emulator(**kwargs)  # type: ignore[arg-type]
    try:
        yield emulator
    finally:
        emulator.stop()
