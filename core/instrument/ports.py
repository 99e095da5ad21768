"""Finding instruments: list serial ports with what USB tells about them (VID/PID, serial
number, description), then ask each candidate HELLO. A port name says nothing about which
unit is behind it (Windows hands out COM numbers per USB socket, and identical adapters on
one hub are easy to mix up); HELLO does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from certbench.core.errors import CertbenchError
from certbench.core.instrument.protocol import HelloInfo
from certbench.core.instrument.transport import DEFAULT_BAUD


@dataclass(frozen=True)
class PortInfo:
    device: str
    description: str
    vid: int | None
    pid: int | None
    serial_number: str | None
    manufacturer: str | None
    location: str | None

    @property
    def usb_id(self) -> str | None:
        return f"{self.vid:04X}:{self.pid:04X}" if self.vid is not None and self.pid is not None else None

    def to_dict(self) -> dict:
        return {**asdict(self), "usb_id": self.usb_id}


def list_ports(vid: int | None = None, pid: int | None = None) -> list[PortInfo]:
    from serial.tools import list_ports as lp

    out = []
    for p in lp.comports():
        if vid is not None and p.vid != vid:
            continue
        if pid is not None and p.pid != pid:
            continue
        out.append(PortInfo(p.device, p.description or "", p.vid, p.pid, p.serial_number, p.manufacturer, p.location))
    return sorted(out, key=lambda p: p.device)


@dataclass(frozen=True)
class Found:
    port: str
    hello: HelloInfo | None
    error: str | None


def probe(ports: list[str], baud: int = DEFAULT_BAUD, response_timeout: float = 0.3) -> list[Found]:
    """Say HELLO on each port (briefly: a port without an instrument costs a few tenths of a second)."""
    from certbench.core.instrument.client import Instrument

    found = []
    for port in ports:
        try:
            with Instrument.open(port, baud, response_timeout=response_timeout, max_retries=1) as inst:
                found.append(Found(port, inst.info, None))
        except CertbenchError as exc:
            found.append(Found(port, None, exc.message))
    return found


def find_instrument(serial: str, ports: list[str], baud: int = DEFAULT_BAUD) -> str:
    """The port whose instrument reports `serial` in HELLO."""
    from certbench.core.instrument.errors import WrongInstrument

    matches = [f.port for f in probe(ports, baud) if f.hello is not None and f.hello.serial == serial]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise WrongInstrument(
            f"No connected instrument reports serial number {serial!r}.",
            "Connect the instrument, switch it on and put it in service mode; check the scanned label.",
        )
    raise WrongInstrument(
        f"Several ports ({', '.join(matches)}) answer with serial number {serial!r}.",
        "Two instruments carry the same serial number, or one is connected twice: disconnect all but one.",
    )
