"""The serial line between host and simulated instrument, with its imperfections: bytes paced
at the baud rate, bit errors, dropped bytes, a receive buffer of fixed size that overflows
if the host sends too much, and scripted faults (cable pulled at request N, reboot at
request N, power loss inside COMMIT, an instrument that never answers, stale or oversize
answers).

One `Connection` per plugged-in cable: a receive thread (the UART interrupt: paces,
corrupts, fills the receive buffer), a firmware thread (decodes frames and runs the
device logic), and a transmit thread (paces and corrupts answers).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from certbench.core.instrument.framing import FrameDecoder, encode_frame
from certbench.core.instrument.protocol import RESPONSE_BIT, Result, parse_request
from certbench.core.emulators.instrument.device import Device
from certbench.core.emulators.instrument.store import PowerLoss

log = logging.getLogger(__name__)
PACE_SLICE = 0.002  # seconds of line time delivered per step when pacing


class Endpoint(Protocol):
    def read_some(self, timeout: float) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


@dataclass
class LineConfig:
    baud: int | None = None  # None: as fast as the transport goes
    bit_error_rate: float = 0.0  # per bit, each direction
    drop_rate: float = 0.0  # per byte, each direction
    seed: int | None = None


@dataclass
class Faults:
    """One-shot scripted faults; each clears itself once it has happened."""

    disconnect_at: int | None = None  # cable pulled when request number N (1-based) arrives ...
    disconnect_after_handling: bool = False  # ... after the instrument acted on it, before answering
    reboot_at: int | None = None  # instrument restarts when request N arrives (that request is lost)
    power_loss_at: str | None = None  # e.g. "commit:written": supply fails at that point inside the store
    silent: bool = False  # receives but never answers
    stale_answers: bool = False  # repeats an old answer (old sequence number) before each answer
    oversize_answer_at: int | None = None  # answers request N with a frame larger than the host accepts
    boot_time: float = 0.05


@dataclass
class LineStats:
    requests: int = 0
    overruns: int = 0
    bit_flips: int = 0
    dropped: int = 0
    disconnects: int = 0
    reboots: int = 0
    decoder: object = None


class _Noise:
    def __init__(self, config: LineConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)

    def apply(self, data: bytes, stats: LineStats) -> bytes:
        ber, drop = self.config.bit_error_rate, self.config.drop_rate
        if not ber and not drop:
            return data
        out = bytearray()
        for byte in data:
            if drop and self.rng.random() < drop:
                stats.dropped += 1
                continue
            if ber:
                # Ten bits per character on the line (start, 8 data, stop); an error in the
                # start or stop bit garbles the character, modelled as a random value.
                for bit in range(10):
                    if self.rng.random() < ber:
                        stats.bit_flips += 1
                        byte = byte ^ (1 << (bit - 1)) if 1 <= bit <= 8 else self.rng.randrange(256)
            out.append(byte)
        return bytes(out)


class _Pacer:
    def __init__(self, baud: int | None) -> None:
        self.byte_time = 10 / baud if baud else 0.0
        self.free_at = 0.0

    def pieces(self, data: bytes):
        """Yield slices of `data` once the line would have carried them."""
        if not self.byte_time:
            yield data
            return
        step = max(1, int(PACE_SLICE / self.byte_time))
        self.free_at = max(self.free_at, time.monotonic())
        for i in range(0, len(data), step):
            piece = data[i : i + step]
            self.free_at += len(piece) * self.byte_time
            delay = self.free_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            yield piece


class Connection:
    def __init__(self, endpoint: Endpoint, device: Device, line: LineConfig, faults: Faults, stats: LineStats) -> None:
        self.endpoint = endpoint
        self.device = device
        self.line = line
        self.faults = faults
        self.stats = stats
        self.closed = threading.Event()
        self._ring: deque[int] = deque()
        self._ring_cond = threading.Condition()
        self._tx: deque[bytes] = deque()
        self._tx_cond = threading.Condition()
        self._rx_noise = _Noise(line)
        self._tx_noise = _Noise(LineConfig(line.baud, line.bit_error_rate, line.drop_rate, None if line.seed is None else line.seed + 1))
        self._rebooting_until = 0.0
        self._last_answer: bytes | None = None
        self._threads = [
            threading.Thread(target=self._rx_loop, name="sim-rx", daemon=True),
            threading.Thread(target=self._fw_loop, name="sim-fw", daemon=True),
            threading.Thread(target=self._tx_loop, name="sim-tx", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        try:
            self.endpoint.close()
        except Exception:  # noqa: BLE001
            pass
        with self._ring_cond:
            self._ring_cond.notify_all()
        with self._tx_cond:
            self._tx_cond.notify_all()

    def join(self, timeout: float = 2.0) -> None:
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout)

    # ------------------------------------------------------------ UART receive

    def _rx_loop(self) -> None:
        pacer = _Pacer(self.line.baud)
        capacity = self.device.config.rx_buffer
        while not self.closed.is_set():
            try:
                data = self.endpoint.read_some(0.1)
            except Exception:  # noqa: BLE001 - the host side went away: cable pulled
                self._pull_cable()
                return
            if not data:
                continue
            for piece in pacer.pieces(data):
                piece = self._rx_noise.apply(piece, self.stats)
                if time.monotonic() < self._rebooting_until:
                    continue  # a booting microcontroller hears nothing
                with self._ring_cond:
                    room = capacity - len(self._ring)
                    if len(piece) > room:
                        self.stats.overruns += len(piece) - room
                        piece = piece[:room]
                    self._ring.extend(piece)
                    self._ring_cond.notify()

    # ------------------------------------------------------------ firmware main loop

    def _fw_loop(self) -> None:
        decoder = FrameDecoder(max_wire=self.device.config.max_frame)
        self.stats.decoder = decoder.stats
        while not self.closed.is_set():
            with self._ring_cond:
                while not self._ring and not self.closed.is_set():
                    self._ring_cond.wait(0.2)
                # Take one frame's worth at a time, so the rest stays in the buffer while
                # this one is handled: that is what the host's window has to respect.
                chunk = bytearray()
                while self._ring:
                    b = self._ring.popleft()
                    chunk.append(b)
                    if b == 0:
                        break
            for payload in decoder.feed(bytes(chunk)):
                try:
                    self._on_frame(payload)
                except PowerLoss:
                    self._reboot()
                except _CablePulled:
                    return
                except Exception:  # noqa: BLE001 - a firmware crash is a reboot, not a dead simulator
                    log.exception("simulated instrument crashed; rebooting")
                    self._reboot()

    def _on_frame(self, payload: bytes) -> None:
        if payload and payload[0] & RESPONSE_BIT:
            return
        self.stats.requests += 1
        n = self.stats.requests
        f = self.faults
        if f.reboot_at == n:
            f.reboot_at = None
            self._reboot()
            return
        if f.disconnect_at == n and not f.disconnect_after_handling:
            f.disconnect_at = None
            self._pull_cable()
            raise _CablePulled()
        answers: list[bytes] = []

        def deliver(answer: bytes) -> None:
            # IN_PROGRESS keep-alives go out while the command runs (spec 5.4: at least every
            # 200 ms); only final answers wait here for the scripted faults below.
            if len(answer) > 3 and answer[3] == Result.IN_PROGRESS:
                if not f.silent:
                    self._send(answer)
            else:
                answers.append(answer)

        self.device.handle(payload, deliver)
        if f.disconnect_at == n:
            f.disconnect_at = None
            self._pull_cable()
            raise _CablePulled()
        if f.silent:
            return
        if f.oversize_answer_at == n:
            f.oversize_answer_at = None
            request = parse_request(payload)
            answers = [bytes([request.cmd | RESPONSE_BIT]) + request.seq.to_bytes(2, "big") + b"\x00" + b"\x55" * 5000]
        for answer in answers:
            if f.stale_answers and self._last_answer is not None:
                self._send(self._last_answer)
            self._send(answer)
            self._last_answer = answer

    def _send(self, payload: bytes) -> None:
        with self._tx_cond:
            # Each answer starts with a delimiter too: a debug print or boot banner that went
            # out just before must not be glued to it.
            self._tx.append(b"\x00" + encode_frame(payload))
            self._tx_cond.notify()

    def _reboot(self) -> None:
        self.stats.reboots += 1
        self._rebooting_until = time.monotonic() + self.faults.boot_time
        with self._ring_cond:
            self._ring.clear()
        with self.device.lock:
            self.device.boot()

    def _pull_cable(self) -> None:
        if not self.closed.is_set():
            self.stats.disconnects += 1
            # A USB-powered instrument loses power with its cable: RAM state is gone.
            with self.device.lock:
                self.device.boot()
        self.close()

    # ------------------------------------------------------------ UART transmit

    def _tx_loop(self) -> None:
        pacer = _Pacer(self.line.baud)
        while not self.closed.is_set():
            with self._tx_cond:
                while not self._tx and not self.closed.is_set():
                    self._tx_cond.wait(0.2)
                if self.closed.is_set():
                    return
                data = b"".join(self._tx)
                self._tx.clear()
            for piece in pacer.pieces(data):
                piece = self._tx_noise.apply(piece, self.stats)
                try:
                    self.endpoint.write(piece)
                except Exception:  # noqa: BLE001
                    self._pull_cable()
                    return


class _CablePulled(Exception):
    pass

