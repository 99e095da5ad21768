"""The request/response engine: sequence numbers, a window of requests in flight bounded by
the instrument's receive buffer, retransmission on timeout and on a gap in the answers.

Why it is shaped this way (see docs/instrument-protocol.md, "Flow control"):
- The instrument handles requests strictly in the order they arrive and answers each before
  the next. So an answer to request B proves that every request sent before B was either
  handled (its answer was lost) or never arrived: the host resends those at once ("fast
  retransmit") instead of waiting for a timeout. A duplicate is harmless because the
  instrument answers a repeated (sequence number, CRC) from its replay cache.
- The sum of the wire sizes of unanswered requests never exceeds the receive buffer the
  instrument announced in HELLO, so a slow instrument is never overrun.
- The timeout runs from the last valid frame received, not per request: an instrument
  busy with a slow command sends IN_PROGRESS frames that keep the whole window alive.
"""

from __future__ import annotations

import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from certbench.core.errors import InstrumentError
from certbench.core.instrument.errors import (
    CABLE_HINT,
    InstrumentNoAnswer,
    ProtocolViolation,
    refusal,
)
from certbench.core.instrument.framing import CRC_SIZE, FrameDecoder, encode_frame, max_raw_for_wire
from certbench.core.instrument.protocol import (
    HEADER_SIZE,
    Cmd,
    MessageError,
    Request,
    Response,
    Result,
    parse_response,
)
from certbench.core.instrument.transport import DEFAULT_BAUD, Transport

log = logging.getLogger(__name__)

# Before HELLO the host knows nothing about the instrument: one small request at a time.
BOOT_RX_BUFFER = 64
BOOT_MAX_FRAME = 64
HOST_MAX_FRAME = 4096
MAX_OUTSTANDING = 8
MAX_RESPONSE_WIRE = 64  # for timeout arithmetic: a typical answer, not the largest possible

# How long an instrument may keep answering IN_PROGRESS before the host gives up (spec 5.4):
# without a bound, firmware stuck in a loop that still sends keep-alives would hang the bench.
BUSY_LIMITS = {Cmd.KEYGEN: 120.0, Cmd.COMMIT: 30.0, Cmd.REGISTER: 90.0}
DEFAULT_BUSY_LIMIT = 10.0


class SessionLost(Exception):
    """The instrument answered NO_SESSION: it restarted. The caller says HELLO again and
    repeats the operation (the instrument did not carry out the refused request)."""


@dataclass
class LinkStats:
    requests: int = 0
    retransmits: int = 0
    fast_retransmits: int = 0
    timeouts: int = 0
    stale_responses: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    echoes: int = 0  # request-shaped frames received: the port sends back what we send


class Source(Protocol):
    """Feeds requests to `Link.run` and consumes their answers."""

    def next_request(self, room: int) -> tuple[int, bytes, Any] | None:
        """The next request as (command, body, tag), with len(body) <= room; None to wait."""

    def finished(self) -> bool: ...

    def on_response(self, tag: Any, response: Response) -> None: ...

    def still_needed(self, tag: Any) -> bool:
        """False when a later answer already made this unanswered request pointless."""


@dataclass
class _Pending:
    seq: int
    cmd: int
    wire: bytes
    tag: Any
    order: int
    tries: int = 0
    sent_len: int = 0  # wire bytes of the last transmission, leading delimiter included
    busy_since: float | None = None  # first IN_PROGRESS for this request


@dataclass
class _Single:
    cmd: int
    body: bytes
    result: Response | None = None
    sent: bool = False

    def next_request(self, room: int) -> tuple[int, bytes, Any] | None:
        if self.sent:
            return None
        if len(self.body) > room:
            return None
        self.sent = True
        return self.cmd, self.body, None

    def finished(self) -> bool:
        return self.sent

    def on_response(self, tag: Any, response: Response) -> None:
        self.result = response

    def still_needed(self, tag: Any) -> bool:
        return True


@dataclass
class Link:
    transport: Transport
    baud: int = DEFAULT_BAUD
    response_timeout: float = 0.3  # the instrument answers within 0.2 s; a margin for OS scheduling
    max_retries: int = 8
    on_wire: Callable[[str, bytes], None] | None = None  # tracing hook: ("tx"|"rx", bytes)
    busy_limits: dict[int, float] = field(default_factory=lambda: dict(BUSY_LIMITS))
    stats: LinkStats = field(default_factory=LinkStats)

    def __post_init__(self) -> None:
        self.decoder = FrameDecoder(max_wire=HOST_MAX_FRAME)
        self.rx_buffer = BOOT_RX_BUFFER
        self.max_frame = BOOT_MAX_FRAME
        self.max_outstanding = 1
        self._seq = random.randrange(0x10000)
        self._order = 0
        self._outstanding: OrderedDict[int, _Pending] = OrderedDict()
        self._flushed = False

    # ------------------------------------------------------------ configuration

    def configure(self, rx_buffer: int, max_frame: int, replay_depth: int) -> None:
        """Apply what HELLO announced. A frame never exceeds max_frame, the unanswered bytes
        never exceed rx_buffer, and no more requests are in flight than the replay cache
        holds (so every duplicate can be recognised)."""
        if rx_buffer < 32 or max_frame < 32:
            raise ProtocolViolation(
                f"The instrument announced an unusably small buffer ({rx_buffer} bytes) or frame ({max_frame} bytes).",
                "Its firmware does not follow the protocol specification: report it to the firmware team.",
            )
        self.rx_buffer = rx_buffer
        self.max_frame = min(max_frame, rx_buffer)
        self.max_outstanding = max(1, min(MAX_OUTSTANDING, replay_depth))

    def reset_boot_limits(self) -> None:
        self.rx_buffer, self.max_frame, self.max_outstanding = BOOT_RX_BUFFER, BOOT_MAX_FRAME, 1

    def max_body(self, wire: int | None = None) -> int:
        return max_raw_for_wire(self.max_frame if wire is None else wire) - HEADER_SIZE - CRC_SIZE

    def preferred_frame(self) -> int:
        """Data frames of at most half the receive buffer, so that two are always in flight:
        while one crosses the line, the instrument answers the other."""
        # (minus one byte: the first frame of a burst carries a leading delimiter)
        return min(self.max_frame, max(32, (self.rx_buffer - 1) // 2))

    def line_time(self, nbytes: int) -> float:
        return nbytes * 10 / self.baud

    # ------------------------------------------------------------ requests

    def request(self, cmd: int, body: bytes = b"", *, check: bool = True) -> Response:
        if len(body) > self.max_body():
            raise InstrumentError(
                f"The {_cmd_name(cmd)} request ({len(body)} bytes) is larger than the instrument accepts "
                f"in one frame ({self.max_body()} bytes).",
                "Use shorter values (subject names, registration settings).",
            )
        single = _Single(cmd, body)
        self.run(single)
        assert single.result is not None
        if check and single.result.result != Result.OK:
            raise refusal(cmd, single.result.result)
        return single.result

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFF
        return self._seq

    def _inflight(self) -> int:
        return sum(p.sent_len for p in self._outstanding.values())

    def _send(self, pending: _Pending, *, idle: bool = False) -> None:
        self._order += 1
        pending.order = self._order
        pending.tries += 1
        # A leading delimiter separates the frame from any noise the line picked up while
        # idle; back-to-back frames share their delimiters, so it is only added to a frame
        # that starts a burst and to every retransmission (whose first copy may have been
        # glued to garbage).
        wire = b"\x00" + pending.wire if idle or pending.tries > 1 else pending.wire
        if self.on_wire:
            self.on_wire("tx", wire)
        pending.sent_len = len(wire)
        self.transport.write(wire)
        self.stats.bytes_sent += len(wire)

    def run(self, source: Source) -> None:
        if not self._flushed:
            # A lone delimiter ends whatever half frame the instrument may hold from before.
            self.transport.write(b"\x00")
            self._flushed = True
        try:
            self._run(source)
        finally:
            if self._outstanding:
                self._drain()

    def _fill(self, source: Source) -> None:
        while len(self._outstanding) < self.max_outstanding:
            idle = not self._outstanding
            room_wire = min(self.max_frame, self.rx_buffer - self._inflight() - int(idle))
            room = self.max_body(room_wire) if room_wire > HEADER_SIZE + CRC_SIZE + 2 else 0
            item = source.next_request(room)
            if item is None:
                return
            cmd, body, tag = item
            seq = self._next_seq()
            wire = encode_frame(Request(cmd, seq, body).to_bytes())
            if len(wire) > room_wire:
                raise AssertionError(f"request of {len(wire)} wire bytes exceeds the {room_wire} available")
            pending = _Pending(seq, cmd, wire, tag, 0)
            self._outstanding[seq] = pending
            self.stats.requests += 1
            self._send(pending, idle=idle)

    def _timeout(self) -> float:
        return self.response_timeout + 2 * self.line_time(self._inflight() + MAX_RESPONSE_WIRE)

    def _run(self, source: Source) -> None:
        oversize_before = self.decoder.stats.oversize
        damaged_before = self._damaged()
        received_before = self.stats.bytes_received
        last_rx = time.monotonic()
        self._fill(source)
        while self._outstanding or not source.finished():
            if not self._outstanding:
                self._fill(source)
                if not self._outstanding:
                    if source.finished():
                        return
                    raise AssertionError("request source is stuck with nothing in flight")
            wait = last_rx + self._timeout() - time.monotonic()
            data = self.transport.read_some(max(0.0, min(wait, 0.5)))
            if data:
                self.stats.bytes_received += len(data)
                if self.on_wire:
                    self.on_wire("rx", data)
                for payload in self.decoder.feed(data):
                    if self._handle(payload, source):
                        last_rx = time.monotonic()
                self._fill(source)
                continue
            if time.monotonic() - last_rx < self._timeout():
                continue
            self.stats.timeouts += 1
            head = next(iter(self._outstanding.values()))
            # Damaged frames arriving from an instrument that has answered before mean a live
            # instrument on a noisy line: keep trying longer than for a silent one.
            noisy = self._damaged() > damaged_before and self.decoder.stats.frames > 0
            limit = self.max_retries * 4 if noisy else self.max_retries
            if head.tries > limit:
                self._outstanding.clear()
                if self.decoder.stats.oversize > oversize_before:
                    raise ProtocolViolation(
                        "The instrument sent a frame larger than Certbench accepts.",
                        "Its firmware does not follow the protocol specification: report it to the firmware team.",
                    )
                raise self._no_answer(head, self.stats.bytes_received - received_before)
            log.debug("timeout: resending %d request(s)", len(self._outstanding))
            for pending in list(self._outstanding.values()):
                self.stats.retransmits += 1
                self._send(pending)
            last_rx = time.monotonic()

    def _no_answer(self, head: _Pending, received: int) -> InstrumentNoAnswer:
        """Silence, an echo and a stream of bytes that are not frames have different causes:
        say which one the technician is looking at."""
        where = self.transport.description
        if self.stats.echoes:
            return InstrumentNoAnswer(
                f"The port {where} sends back what Certbench sends (an echo), and no instrument answers.",
                "This is not an instrument's service port, or a loopback plug or terminal adapter is "
                "connected: check the port (certbench instrument ports --probe) and the cable.",
            )
        if received:
            return InstrumentNoAnswer(
                f"Something on {where} sends data, but not in the provisioning protocol "
                f"({received} bytes, no valid frame; {_cmd_name(head.cmd)}, {head.tries} attempts).",
                "Check the baud rate (--baud; instruments use 115200 unless their manual says otherwise), "
                "that this is the instrument's service port and not another device or console, and that "
                "the instrument is in service mode.",
            )
        return InstrumentNoAnswer(
            f"The instrument on {where} did not answer ({_cmd_name(head.cmd)}, {head.tries} attempts).",
            CABLE_HINT,
        )

    def _damaged(self) -> int:
        st = self.decoder.stats
        return st.crc_errors + st.cobs_errors + st.runts

    def _handle(self, payload: bytes, source: Source) -> bool:
        """Process one CRC-valid frame; True if it was a frame the host expected."""
        try:
            response = parse_response(payload)
        except MessageError:
            if payload and not payload[0] & 0x80:
                self.stats.echoes += 1  # an instrument never sends requests: our own frame came back
            return False
        pending = self._outstanding.get(response.seq)
        if pending is None:
            self.stats.stale_responses += 1
            log.debug("ignoring answer for seq %d that is not outstanding", response.seq)
            return False
        if response.cmd != pending.cmd:
            raise ProtocolViolation(
                f"The instrument answered {_cmd_name(pending.cmd)} with a {_cmd_name(response.cmd)} response.",
                "Its firmware does not follow the protocol specification: report it to the firmware team.",
            )
        if response.result == Result.IN_PROGRESS:
            now = time.monotonic()
            if pending.busy_since is None:
                pending.busy_since = now
            limit = self.busy_limits.get(pending.cmd, DEFAULT_BUSY_LIMIT)
            if now - pending.busy_since > limit:
                self._outstanding.clear()
                raise InstrumentNoAnswer(
                    f"The instrument on {self.transport.description} has been working on "
                    f"{_cmd_name(pending.cmd)} for more than {limit:g} s without finishing.",
                    "Power-cycle the instrument and retry; if it happens again, the instrument needs service "
                    "(report the firmware version to the firmware team).",
                )
            return True
        del self._outstanding[response.seq]
        if response.result == Result.NO_SESSION and pending.cmd != Cmd.HELLO:
            raise SessionLost()
        # The source sees the answer first: it may make earlier requests pointless (a
        # go-back after OFFSET_GAP resends their data anyway).
        source.on_response(pending.tag, response)
        # Everything sent before this request and still unanswered was lost on the way in
        # or its answer was lost on the way out: resend now, or drop if no longer needed.
        for earlier in [p for p in self._outstanding.values() if p.order < pending.order]:
            if not source.still_needed(earlier.tag):
                del self._outstanding[earlier.seq]
                continue
            if earlier.tries > self.max_retries * 4:
                raise InstrumentNoAnswer(
                    f"The instrument on {self.transport.description} keeps missing {_cmd_name(earlier.cmd)}.",
                    "The line is very noisy: " + CABLE_HINT,
                )
            self.stats.fast_retransmits += 1
            self._send(earlier)
        return True

    def _drain(self) -> None:
        """After an error, wait (bounded) for the answers still owed, so that the next
        operation starts with an empty instrument buffer."""
        deadline = time.monotonic() + self._timeout()
        try:
            while self._outstanding and time.monotonic() < deadline:
                data = self.transport.read_some(max(0.0, deadline - time.monotonic()))
                for payload in self.decoder.feed(data):
                    try:
                        response = parse_response(payload)
                    except MessageError:
                        continue
                    if response.result != Result.IN_PROGRESS:
                        self._outstanding.pop(response.seq, None)
        except Exception:  # noqa: BLE001 - draining is best effort; the original error matters
            pass
        self._outstanding.clear()


def _cmd_name(cmd: int) -> str:
    try:
        return Cmd(cmd).name
    except ValueError:
        return f"command 0x{cmd:02x}"
