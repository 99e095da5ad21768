"""Byte transports between the host and an instrument.

`SerialTransport` opens anything pyserial can: a COM port, a /dev/tty* device, or a pyserial
URL (`socket://127.0.0.1:5555` for the simulator over TCP, `rfc2217://host:port` for a
network serial server, `loop://` for a loopback). `pipe_pair()` makes two connected
in-process ends, which is how tests and the unit workflow talk to a simulator without any
operating-system port.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from certbench.core.instrument.errors import CABLE_HINT, InstrumentDisconnected, InstrumentPortError

DEFAULT_BAUD = 115200


class Transport(Protocol):
    description: str

    def write(self, data: bytes) -> None: ...

    def read_some(self, timeout: float) -> bytes:
        """Whatever arrived, waiting at most `timeout` seconds for the first byte; b"" if none."""
        ...

    def close(self) -> None: ...


def _disconnected(where: str) -> InstrumentDisconnected:
    return InstrumentDisconnected(f"The connection to the instrument on {where} was lost.", CABLE_HINT)


class SerialTransport:
    """A pyserial port or URL. The port's own timeout is switched between a short blocking
    wait for the first byte and zero (take what is buffered), because pyserial's socket
    handler otherwise waits out the whole timeout on a partial read."""

    def __init__(self, port: str, baud: int = DEFAULT_BAUD, *, open_timeout: float = 5.0) -> None:
        import serial  # pyserial; imported here so the rest of the package loads without it

        self.description = port
        self.baud = baud
        self._serial_exception = serial.SerialException
        try:
            self._port = serial.serial_for_url(
                port, baudrate=baud, bytesize=8, parity="N", stopbits=1, timeout=0, write_timeout=open_timeout,
                do_not_open=True,
            )
            if hasattr(self._port, "exclusive") and not port.startswith(("socket://", "rfc2217://", "loop://")):
                self._port.exclusive = True  # two programs on one instrument would corrupt each other's frames
            self._port.open()
            sock = getattr(self._port, "_socket", None)
            if sock is not None:
                # Network serial (socket://, rfc2217://): without TCP_NODELAY, Nagle's algorithm
                # holds back the second frame of the window until the first is acknowledged.
                import socket

                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (serial.SerialException, ValueError, OSError, TypeError) as exc:
            raise InstrumentPortError(*explain_open_error(port, exc)) from None
        self._timeout = 0.0

    def _set_timeout(self, value: float) -> None:
        if value != self._timeout:
            self._port.timeout = value
            self._timeout = value

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
        except (self._serial_exception, OSError):
            raise _disconnected(self.description) from None

    def read_some(self, timeout: float) -> bytes:
        try:
            self._set_timeout(max(0.0, timeout))
            first = self._port.read(1)
            if not first:
                return b""
            self._set_timeout(0.0)
            return first + self._port.read(65536)
        except (self._serial_exception, OSError, TypeError, AttributeError):
            # pyserial raises TypeError/AttributeError from some handlers once the port has vanished
            raise _disconnected(self.description) from None

    def close(self) -> None:
        try:
            self._port.close()
        except Exception:  # noqa: BLE001 - closing a port that is already gone is fine
            pass


_PORT_NAMES = "a COM port (COM3), a device (/dev/ttyUSB0) or socket://HOST:PORT / rfc2217://HOST:PORT"


def explain_open_error(port: str, exc: BaseException) -> tuple[str, str]:
    """Message and hint for a port that would not open. pyserial's own text names the OS call
    that failed; a technician needs the cause (no such port, busy, no permission, nothing
    listening) and what to do about it."""
    text = str(exc)
    low = text.lower()
    errno = getattr(exc, "errno", None)
    if port.startswith(("socket://", "rfc2217://")):
        if not _valid_network_url(port):
            return (f"{port} is not a valid network serial address (it needs a host and a port number).",
                    f"Use {_PORT_NAMES}, e.g. socket://127.0.0.1:5555 as printed by certbench emulate instrument.")
        if "refused" in low or errno == 111:
            return (f"Nothing is listening at {port}.",
                    "Start the instrument simulator (certbench emulate instrument) or the network serial "
                    "server, and check the address and port number it printed.")
        return (f"Could not connect to {port}: {text}.",
                "Check the address, that the simulator or serial server is running, and the network.")
    if "protocol" in low and "not known" in low or isinstance(exc, (ValueError, TypeError)):
        return (f"{port} is not a valid port name or address.", f"Use {_PORT_NAMES}.")
    if errno == 2 or "no such file" in low or "cannot find the file" in low or "filenotfound" in low:
        return (f"There is no serial port {port} on this computer.",
                "List the ports with: certbench instrument ports. If the instrument is not listed, "
                "unplug and re-plug its USB cable (another port or cable if it still does not appear).")
    if errno == 16 or "busy" in low or "exclusively lock" in low or "access is denied" in low:
        return (f"The port {port} is in use by another program.",
                "Close the other program that has it open (a terminal, another Certbench window), then retry.")
    if errno == 13 or "permission denied" in low:
        return (f"Certbench is not allowed to open {port} (permission denied).",
                "On Linux, add your user to the 'dialout' group and log in again; "
                "otherwise ask your administrator for access to serial ports.")
    if errno == 25 or "inappropriate ioctl" in low or "could not configure port" in low:
        return (f"{port} is not a serial port.", f"Use {_PORT_NAMES}; see certbench instrument ports.")
    return (f"Could not open the port {port}: {text}.",
            "Check the port name (certbench instrument ports), that no other program "
            "(a terminal, another Certbench) has it open, and that the cable is plugged in.")


def _valid_network_url(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        return bool(parts.hostname) and parts.port is not None and 0 < parts.port < 65536
    except ValueError:
        return False


class PipeEnd:
    """One end of an in-process, full-duplex byte pipe (see `pipe_pair`)."""

    def __init__(self, name: str, inbox: _Channel, outbox: _Channel) -> None:
        self.description = name
        self._in = inbox
        self._out = outbox

    def write(self, data: bytes) -> None:
        if not self._out.put(data):
            raise _disconnected(self.description)

    def read_some(self, timeout: float) -> bytes:
        data = self._in.get(timeout)
        if data is None:
            raise _disconnected(self.description)
        return data

    def close(self) -> None:
        self._in.close()
        self._out.close()

    @property
    def closed(self) -> bool:
        return self._in.closed


class _Channel:
    def __init__(self) -> None:
        self._buf = bytearray()
        self._cond = threading.Condition()
        self.closed = False

    def put(self, data: bytes) -> bool:
        with self._cond:
            if self.closed:
                return False
            self._buf += data
            self._cond.notify_all()
            return True

    def get(self, timeout: float) -> bytes | None:
        """Buffered bytes, b"" on timeout, None once closed and drained."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            while not self._buf and not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return b""
                self._cond.wait(left)
            if self._buf:
                out = bytes(self._buf)
                self._buf.clear()
                return out
            return None

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


def pipe_pair(name: str = "in-process") -> tuple[PipeEnd, PipeEnd]:
    """Two connected ends: bytes written to one are read from the other. Closing either end
    closes the connection for both, as pulling a cable would."""
    a_to_b, b_to_a = _Channel(), _Channel()
    return PipeEnd(name, b_to_a, a_to_b), PipeEnd(name, a_to_b, b_to_a)
