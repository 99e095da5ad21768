"""Where scans come from: a keyboard-wedge scanner (keystrokes) or a USB-serial (CDC) scanner.

Both sources call the same `ScanCallback` with a `ScanEvent`, so the GUI and the CLI treat
them alike and hand `event.text` to `scan.interpret_scan`. Nothing here imports Qt: the GUI
feeds `WedgeDetector` from its key events, the CLI and tests feed it directly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import serial
from serial.tools import list_ports

from certbench.core.naming.errors import ScannerError


@dataclass(frozen=True)
class ScanEvent:
    text: str
    source: str  # "wedge" or "serial:<port>"
    timestamp: float


ScanCallback = Callable[[ScanEvent], None]


# -- keyboard wedge --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WedgeResult:
    kind: Literal["scan", "typed"]
    text: str
    # Slowly typed characters before a scan burst; the GUI removes them from the field.
    typed_before: str = ""


@dataclass
class WedgeDetector:
    """Tells a scanner's burst of keys from a person typing.

    Feed every character with `key(char, t)` (seconds, monotonic) and the Enter key with
    `enter(t)`. A burst is a scan when every gap between its keys, and before the Enter, is
    below `max_gap` (scanners type a character every few ms; people need 80 ms or more), it
    has at least `min_length` characters, and it starts/ends with the configured prefix/suffix
    (which are removed). ASCII 29 (GS, the GS1 field separator) is kept as data.
    """

    on_scan: ScanCallback | None = None
    max_gap: float = 0.05
    min_length: int = 4
    prefix: str = ""
    suffix: str = ""
    _keys: list[tuple[str, float]] = field(default_factory=list)
    _typed: list[str] = field(default_factory=list)

    @classmethod
    def from_settings(cls, settings, on_scan: ScanCallback | None = None, **options) -> WedgeDetector:
        return cls(on_scan, prefix=settings.bench.scanner_prefix, suffix=settings.bench.scanner_suffix, **options)

    def key(self, char: str, timestamp: float) -> WedgeResult | None:
        if char in ("\r", "\n"):
            return self.enter(timestamp)
        if not char:  # modifier keys carry no text
            return None
        if self._keys and timestamp - self._keys[-1][1] >= self.max_gap:
            # A pause: everything so far was typed by hand; a scan may still start here.
            self._typed.extend(ch for ch, _ in self._keys)
            self._keys.clear()
        self._keys.append((char, timestamp))
        return None

    def enter(self, timestamp: float) -> WedgeResult:
        burst = "".join(ch for ch, _ in self._keys)
        typed = "".join(self._typed)
        fast = bool(self._keys) and timestamp - self._keys[-1][1] < self.max_gap
        self._keys.clear()
        self._typed.clear()
        text = burst
        framed = text.startswith(self.prefix) and text.endswith(self.suffix)
        if framed:
            text = text[len(self.prefix) : len(text) - len(self.suffix)]
        if fast and framed and len(text) >= self.min_length:
            if self.on_scan is not None:
                self.on_scan(ScanEvent(text, "wedge", timestamp))
            return WedgeResult("scan", text, typed)
        return WedgeResult("typed", typed + burst)

    def reset(self) -> None:
        self._keys.clear()
        self._typed.clear()


# -- USB-serial (CDC) scanner -------------------------------------------------------------------


class SerialScanner:
    """Reads scans, one per line (CR, LF or CR LF), from a serial port on a reader thread.

    `port_url` is anything `serial.serial_for_url` accepts: "COM5", "/dev/ttyACM0",
    "loop://", "socket://127.0.0.1:4000". Each line becomes a ScanEvent for `on_scan` (called
    on the reader thread). A line without terminator is delivered after `idle_flush` seconds
    of silence, for scanners configured without a suffix. If the port vanishes (unplugged),
    `on_error` gets a ScannerError and the reader stops; `error` keeps it.
    """

    def __init__(
        self,
        port_url: str,
        on_scan: ScanCallback,
        *,
        on_error: Callable[[ScannerError], None] | None = None,
        baudrate: int = 9600,
        read_timeout: float = 0.1,
        idle_flush: float = 0.5,
        prefix: str = "",
        suffix: str = "",
        encoding: str = "latin-1",
    ) -> None:
        self.port_url = port_url
        self._on_scan = on_scan
        self._on_error = on_error
        self._baudrate = baudrate
        self._read_timeout = read_timeout
        self._idle_flush = idle_flush
        self._prefix = prefix
        self._suffix = suffix
        self._encoding = encoding
        self._port: serial.SerialBase | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.error: ScannerError | None = None

    def start(self) -> SerialScanner:
        if self._thread is not None:
            return self
        try:
            self._port = serial.serial_for_url(self.port_url, baudrate=self._baudrate, timeout=self._read_timeout)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ScannerError(
                f"The barcode scanner port {self.port_url} cannot be opened: {exc}.",
                "Check that the scanner is plugged in, that the port name in Settings > Bench is right "
                "(Device Manager shows it), and that no other program uses the port.",
            ) from None
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"scanner {self.port_url}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stopping.set()
        port = self._port
        if port is not None and hasattr(port, "cancel_read"):
            try:
                port.cancel_read()
            except Exception:  # noqa: BLE001 - best effort: the read times out anyway
                pass
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if port is not None:
            try:
                port.close()
            except Exception:  # noqa: BLE001 - a vanished port may refuse to close
                pass
            self._port = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> SerialScanner:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _run(self) -> None:
        assert self._port is not None
        buffer = bytearray()
        last_byte = time.monotonic()
        while not self._stopping.is_set():
            try:
                chunk = self._port.read(self._port.in_waiting or 1)
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                # TypeError/AttributeError: pyserial's handle vanishes under it on some
                # platforms when the device is unplugged mid-read.
                if not self._stopping.is_set():
                    self._fail(exc)
                return
            now = time.monotonic()
            if chunk:
                buffer.extend(chunk)
                last_byte = now
                while True:
                    cut = _line_end(buffer)
                    if cut is None:
                        break
                    line, skip = cut
                    self._emit(bytes(buffer[:line]), now)
                    del buffer[: line + skip]
            elif buffer and (buffer.endswith(b"\r") or now - last_byte >= self._idle_flush):
                # A CR with nothing after it for a read timeout: a CR-only scanner (a late
                # LF then makes an empty line, which is dropped).
                self._emit(bytes(buffer).rstrip(b"\r"), now)
                buffer.clear()

    def _emit(self, data: bytes, timestamp: float) -> None:
        text = data.decode(self._encoding, errors="replace")
        if self._prefix and text.startswith(self._prefix):
            text = text[len(self._prefix) :]
        if self._suffix and text.endswith(self._suffix):
            text = text[: len(text) - len(self._suffix)]
        if text:
            self._on_scan(ScanEvent(text, f"serial:{self.port_url}", timestamp))

    def _fail(self, exc: BaseException) -> None:
        self.error = ScannerError(
            f"The barcode scanner on {self.port_url} stopped answering ({exc}); it was probably unplugged.",
            "Plug the scanner in again and restart scanning, or use a keyboard scanner.",
        )
        if self._on_error is not None:
            self._on_error(self.error)


def _line_end(buffer: bytearray) -> tuple[int, int] | None:
    """(end of the line, length of its terminator), treating CR LF as one terminator."""
    for index, byte in enumerate(buffer):
        if byte == 0x0A:
            return index, 1
        if byte == 0x0D:
            if index + 1 < len(buffer):
                return index, 2 if buffer[index + 1] == 0x0A else 1
            return None  # wait: an LF may follow
    return None


# -- finding scanners ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ScannerPort:
    device: str
    vid: int
    pid: int
    description: str
    serial_number: str | None


def parse_vid_pid(text: str) -> tuple[int, int]:
    """'05E0:1200' (hex, as Device Manager shows it) -> (0x05E0, 0x1200)."""
    try:
        vid, pid = text.strip().split(":")
        return int(vid, 16), int(pid, 16)
    except ValueError:
        raise ScannerError(
            f"'{text}' is not a USB vendor:product id.",
            "Write it as four hex digits, a colon and four hex digits, e.g. 05E0:1200.",
        ) from None


def find_scanner_ports(vid_pids: Iterable[tuple[int, int] | str]) -> list[ScannerPort]:
    """Serial ports whose USB vendor/product id is one of `vid_pids`, sorted by device name."""
    wanted = {parse_vid_pid(item) if isinstance(item, str) else (int(item[0]), int(item[1])) for item in vid_pids}
    found = [
        ScannerPort(info.device, info.vid, info.pid, info.description or "", info.serial_number)
        for info in list_ports.comports()
        if info.vid is not None and (info.vid, info.pid) in wanted
    ]
    return sorted(found, key=lambda port: port.device)


__all__ = [
    "ScanCallback",
    "ScanEvent",
    "ScannerPort",
    "SerialScanner",
    "WedgeDetector",
    "WedgeResult",
    "find_scanner_ports",
    "parse_vid_pid",
]
