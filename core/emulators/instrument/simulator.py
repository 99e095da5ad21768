"""`SimulatedInstrument`: a faithful instrument to provision, reachable in-process
(`connect()`), over TCP (`serve_tcp()`, which pyserial opens as `socket://host:port`, on
Windows too) or over a pseudo-terminal (`serve_pty()`, Linux: a real /dev/pts/N that
pyserial opens like any serial port).

The device state (its non-volatile store) survives disconnects, reboots and even a new
`SimulatedInstrument` on the same folder: that is how tests check that an interrupted
provisioning left the instrument wholly old or wholly new.
"""

from __future__ import annotations

import os
import select
import socket
import threading
from pathlib import Path

from certbench.core import paths
from certbench.core.emulators.instrument.device import Device, DeviceConfig, RegisterHandler
from certbench.core.emulators.instrument.line import Connection, Faults, LineConfig, LineStats
from certbench.core.emulators.instrument.store import PowerLoss, SecureStore
from certbench.core.instrument.protocol import ALG_BY_NAME, Alg
from certbench.core.instrument.transport import PipeEnd, pipe_pair


class SimulatedInstrument:
    def __init__(
        self,
        model: str = "MC-100",
        serial: str = "SIM0001",
        firmware: str = "1.0.0",
        store_dir: str | Path | None = None,
        *,
        keygen: bool = True,
        key_import: bool | None = None,
        algorithms: tuple[str, ...] = ("ec-p256", "ec-p384", "rsa-2048"),
        rx_buffer: int = 256,
        max_frame: int = 256,
        replay_depth: int = 8,
        lock: bool = True,
        register_handler: RegisterHandler | None = None,
        line: LineConfig | None = None,
        faults: Faults | None = None,
        flash_delay: float = 0.0,
    ) -> None:
        self.config = DeviceConfig(
            model=model,
            serial=serial,
            firmware=firmware,
            keygen=keygen,
            key_import=(not keygen) if key_import is None else key_import,
            algorithms=tuple(int(ALG_BY_NAME[a]) for a in algorithms) if keygen else (),
            rx_buffer=rx_buffer,
            max_frame=max_frame,
            replay_depth=replay_depth,
            lock=lock,
            flash_delay=flash_delay,
            register_handler=register_handler,
        )
        self.line = line or LineConfig()
        self.faults = faults or Faults()
        self.stats = LineStats()
        folder = Path(store_dir) if store_dir is not None else paths.data_dir() / "instrument-sim"
        self.store = SecureStore(folder, serial, fault=self._fault)
        self.device = Device(self.config, self.store)
        self._connections: list[Connection] = []
        self._lock = threading.Lock()
        self._servers: list[tuple[socket.socket, threading.Thread]] = []
        self._pty_fds: list[int] = []
        self._stop = threading.Event()

    def _fault(self, point: str) -> None:
        if self.faults.power_loss_at == point:
            self.faults.power_loss_at = None
            raise PowerLoss(point)

    # ------------------------------------------------------------ ways to connect

    def attach(self, endpoint) -> Connection:
        """Serve the protocol on any byte endpoint (read_some/write/close)."""
        with self._lock:
            self._connections = [c for c in self._connections if not c.closed.is_set()]
            conn = Connection(endpoint, self.device, self.line, self.faults, self.stats)
            self._connections.append(conn)
            return conn

    def connect(self) -> PipeEnd:
        """An in-process connection: returns the host end, which `Instrument` accepts as its transport."""
        host_end, device_end = pipe_pair(f"simulated {self.config.model} {self.config.serial}")
        self.attach(device_end)
        return host_end

    def serve_tcp(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (one host at a time, like a serial port); returns the pyserial URL."""
        server = socket.create_server((host, port))
        server.settimeout(0.2)
        thread = threading.Thread(target=self._accept_loop, args=(server,), name="sim-tcp", daemon=True)
        self._servers.append((server, thread))
        thread.start()
        bound_host, bound_port = server.getsockname()[:2]
        return f"socket://{bound_host}:{bound_port}"

    def _accept_loop(self, server: socket.socket) -> None:
        current: Connection | None = None
        while not self._stop.is_set():
            try:
                sock, _ = server.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            if current is not None and not current.closed.is_set():
                current.close()  # a second host takes over the port, as a reopened COM port would
                current.join()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            current = self.attach(_SocketEndpoint(sock))

    def serve_pty(self) -> str:
        """A pseudo-terminal (POSIX only); returns the device path to open, e.g. /dev/pts/5."""
        import tty

        master, slave = os.openpty()
        tty.setraw(slave)
        tty.setraw(master)
        self._pty_fds += [master, slave]  # the slave stays open so the master never sees EIO
        self.attach(_PtyEndpoint(master))
        return os.ttyname(slave)

    # ------------------------------------------------------------ control

    def reboot(self) -> None:
        """Power-cycle: RAM state (session, replay cache) is lost, the store is read back."""
        with self.device.lock:
            self.device.boot()
        self.stats.reboots += 1

    def disconnect_all(self) -> None:
        for conn in list(self._connections):
            conn.close()

    def close(self) -> None:
        self._stop.set()
        for server, thread in self._servers:
            server.close()
            thread.join(2)
        self.disconnect_all()
        for conn in list(self._connections):
            conn.join()
        for fd in self._pty_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._pty_fds.clear()

    def __enter__(self) -> SimulatedInstrument:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def algorithms(self) -> tuple[str, ...]:
        from certbench.core.instrument.protocol import ALG_NAMES

        return tuple(ALG_NAMES[Alg(a)] for a in self.config.algorithms)


class _SocketEndpoint:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._closed = False

    def read_some(self, timeout: float) -> bytes:
        if self._closed:
            raise ConnectionError("closed")
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return b""
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("peer closed")
        return data

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self._closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class _PtyEndpoint:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._closed = False

    def read_some(self, timeout: float) -> bytes:
        if self._closed:
            raise ConnectionError("closed")
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self.fd, 65536)
        except OSError:
            return b""  # nobody has the port open at the moment

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def close(self) -> None:
        # Pulling the "cable" of a pty leaves the pty in place; the simulator keeps serving.
        self._closed = True


__all__ = ["SimulatedInstrument", "LineConfig", "Faults"]
