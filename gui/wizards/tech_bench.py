"""What the technician wizards share, without Qt: one `BenchEnv` per process (registry,
issuer, IoT Central client and the workstation keys held in memory, so a unit failed in one
wizard can be resumed from another), which port each wizard holds, instrument discovery
over the env's transports (real COM ports, or demo mode's simulated instruments), and the
demo bench's instruments and their labels.

Every function that opens something runs on the task runner's threads, never on the GUI
thread.
"""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass
from typing import Any

from certbench.core.bench import BenchEnv, default_operator
from certbench.core.config import Settings
from certbench.core.dashboard import InstrumentRow
from certbench.core.errors import CertbenchError

# -- one BenchEnv per process ------------------------------------------------------------------

_env_lock = threading.Lock()
_envs: dict[tuple[int, int], BenchEnv] = {}


def shared_env(settings: Settings, demo: Any = None, operator: str | None = None) -> BenchEnv:
    """The process's BenchEnv for these settings (built on first use; blocking: call from a
    task). Saved settings are a new object and get a new env; the old one stays open for
    runs still using it and is closed at exit."""
    key = (id(settings), id(demo))
    with _env_lock:
        env = _envs.get(key)
        if env is None:
            if demo is not None:
                env = demo.bench_env(operator=operator or default_operator())
            else:
                env = BenchEnv.from_settings(settings, operator=operator)
            _envs[key] = env
        return env


@atexit.register
def close_shared_envs() -> None:
    with _env_lock:
        envs = list(_envs.values())
        _envs.clear()
    for env in envs:
        env.close()


# -- which wizard holds which port ---------------------------------------------------------------

_claims_lock = threading.Lock()
_claims: dict[str, object] = {}


def claim_port(port: str, holder: object) -> bool:
    """Two runs on one port would interleave their frames on one cable: one holder at a time."""
    with _claims_lock:
        current = _claims.get(port)
        if current is not None and current is not holder:
            return False
        _claims[port] = holder
        return True


def release_ports(holder: object) -> None:
    with _claims_lock:
        for port in [p for p, h in _claims.items() if h is holder]:
            del _claims[port]


def port_holder(port: str) -> object | None:
    with _claims_lock:
        return _claims.get(port)


# -- discovery -------------------------------------------------------------------------------------

BUSY = "in use (provisioning)"


def list_candidate_ports(demo: Any = None, settings: Settings | None = None) -> list[str]:
    """The simulated instruments' ports in demo mode, otherwise the ports the bench settings
    name (`[bench] instrument_ports`, else this PC's serial ports, narrowed by
    `instrument_usb_ids`)."""
    if demo is not None:
        return list(demo.instruments)
    from certbench.core.config import load_settings
    from certbench.core.dashboard import instrument_ports

    return instrument_ports((settings if settings is not None else load_settings()).bench)


def discover(opener, ports: list[str], *, holder: object = None, response_timeout: float = 0.3) -> list[InstrumentRow]:
    """Ask HELLO on every port through `opener(port) -> Transport` (a BenchEnv's, or demo
    mode's). A port another wizard holds is listed as busy without being opened: a HELLO in
    the middle of its run would restart the instrument's session. Ports where nothing
    answers are left out."""
    from certbench.core.instrument.client import Instrument

    rows = []
    for port in ports:
        held_by = port_holder(port)
        if held_by is not None and held_by is not holder:
            rows.append(InstrumentRow(port, "", "", BUSY))
            continue
        try:
            with Instrument(opener(port), response_timeout=response_timeout, max_retries=1) as inst:
                info = inst.hello()
        except (CertbenchError, OSError):
            continue
        flags = [f.name.lower().replace("_", " ") for f in type(info.state) if f in info.state]
        rows.append(InstrumentRow(port, info.model, info.serial, ", ".join(flags) or "ready"))
    return rows


# -- the demo bench ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLabel:
    model: str
    serial: str
    port: str | None  # None: a label with no instrument on the bench (to show a mismatch)
    text: str  # what the scanner sends: symbology identifier, GS1 element strings, GS separators

    @property
    def shown(self) -> str:
        """The text with the invisible separator made visible."""
        return self.text.replace("\x1d", "⟨GS⟩")


# Mixed products: device keys (mx200, vx10) and workstation keys (mx300). vx10's intermediate
# starts unverified in demo mode: it provisions once the administrator wizard verified it.
DEMO_INSTRUMENTS = (("mx200", "MX2D0001"), ("mx300", "MX3D0001"), ("mx200", "MX2D0002"), ("vx10", "VX1D0001"))
DEMO_SPARE_LABEL = ("mx200", "MX2D0099")  # a unit that is not on the bench


def gs1_label(settings: Settings, model: str, serial: str, lot: str = "DEMO1") -> str:
    """A GS1 DataMatrix UDI as a scanner sends it: ]d2, (01) GTIN, (21) serial, GS, (10) lot."""
    gtin = settings.product(model).gtins[0]
    return f"]d201{gtin}21{serial}\x1d10{lot}"


def add_demo_instruments(demo: Any) -> list[str]:
    """The demo bench's simulated instruments (once); returns their ports."""
    ports = []
    for model, serial in DEMO_INSTRUMENTS:
        port = f"sim:{serial}"
        if port not in demo.instruments:
            demo.add_instrument(model, serial, port=port)
        ports.append(port)
    return ports


def demo_labels(demo: Any) -> list[DemoLabel]:
    settings = demo.settings
    by_serial = {sim.config.serial: port for port, sim in demo.instruments.items()}
    labels = [DemoLabel(model, serial, by_serial.get(serial), gs1_label(settings, model, serial))
              for model, serial in DEMO_INSTRUMENTS]
    model, serial = DEMO_SPARE_LABEL
    labels.append(DemoLabel(model, serial, None, gs1_label(settings, model, serial)))
    return labels


__all__ = [
    "BUSY",
    "DEMO_INSTRUMENTS",
    "DemoLabel",
    "add_demo_instruments",
    "claim_port",
    "close_shared_envs",
    "demo_labels",
    "discover",
    "gs1_label",
    "list_candidate_ports",
    "port_holder",
    "release_ports",
    "shared_env",
]
