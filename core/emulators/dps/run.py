"""Start the DPS emulator next to the IoT Central emulator whose state it reads, in this
process: for `certbench emulate dps|all`, demo mode and tests.

DPS reads and writes the IoT Central emulator's state in memory (verified CAs, devices), so
the two share a process; `state_dir` keeps IoT Central's groups and devices across restarts.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from certbench.core.emulators.dps.server import DPS_PORT, DpsEmulator
from certbench.core.emulators.tls import EmulatorCA

CA_FILE = "dps-emulator-ca.pem"


@dataclass
class RunningDps:
    central: object  # certbench.core.emulators.iotcentral.RunningEmulator
    dps: DpsEmulator
    ca_file: Path

    @property
    def host(self) -> str:
        return self.dps.host

    @property
    def id_scope(self) -> str:
        return self.dps.id_scope

    def stop(self) -> None:
        self.dps.stop()
        self.central.stop()  # type: ignore[attr-defined]


def start_dps_with_central(
    *,
    host: str = "127.0.0.1",
    port: int = DPS_PORT,
    central_host: str = "127.0.0.1",
    central_port: int = 0,
    state_dir: Path | str | None = None,
    ca_dir: Path | str | None = None,
) -> RunningDps:
    """IoT Central emulator (HTTPS, `central_host`:`central_port`) + DPS (`host`:`port`).
    Raises ValueError for a non-loopback address, OSError when a port is taken."""
    from certbench.core.emulators.iotcentral import start_emulator

    folder = Path(ca_dir or state_dir or tempfile.mkdtemp(prefix="certbench-dps-"))
    central = start_emulator(host=central_host, port=central_port, state_dir=state_dir, ca_dir=folder)
    try:
        tls = EmulatorCA("Certbench DPS Emulator CA")
        dps = DpsEmulator(central.state, host=host, port=port, tls=tls).start()
    except BaseException:
        central.stop()
        raise
    return RunningDps(central, dps, tls.write_pem(folder / CA_FILE))


@contextmanager
def run_dps_with_central(**kwargs: object) -> Iterator[RunningDps]:
    running = start_dps_with_central(**kwargs)  # type: ignore[arg-type]
    try:
        yield running
    finally:
        running.stop()
