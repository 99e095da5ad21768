"""Pipelined, resumable staged writes: STAGE_BEGIN and STAGE_WRITE frames for several stores
in one continuous stream, so the line never waits for a round trip between stores.

Each store's transfer starts with STAGE_BEGIN (size and SHA-256); the instrument answers
with how much of that exact content it already holds, so a transfer cut by a pulled cable
or a reboot continues where it stopped. Writes must be contiguous: a write beyond what
the instrument holds is answered OFFSET_GAP with the offset to go back to (go-back-N).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from certbench.core.instrument.canonical import sha256
from certbench.core.instrument.errors import ProtocolViolation, refusal
from certbench.core.instrument.protocol import (
    BEGIN_RESTART,
    WRITE_HEADER_SIZE,
    BeginRequest,
    Cmd,
    MessageError,
    Response,
    Result,
    WriteRequest,
    decode_received,
)

Progress = Callable[[int, int], None]
BEGIN_BODY_SIZE = 3 + 4 + 32
MIN_CHUNK = 16
# Frame size against line noise: with 14 bytes of overhead per frame, full frames are best
# until roughly a third of them are lost (around 1e-3 per bit); only then halve them.
HISTORY = 12
SHRINK_ABOVE = 0.3
GROW_BELOW = 0.1


@dataclass
class _Xfer:
    store: int
    data: bytes
    xfer_id: int
    digest: bytes
    begun: bool = False
    begin_attempt: int = 0
    cursor: int = 0  # next offset to send
    confirmed: int = 0  # what the instrument said it holds
    epoch: int = 0

    @property
    def total(self) -> int:
        return len(self.data)

    @property
    def done(self) -> bool:
        return self.confirmed >= self.total


@dataclass(frozen=True)
class _BeginTag:
    xfer: _Xfer
    attempt: int


@dataclass(frozen=True)
class _WriteTag:
    xfer: _Xfer
    offset: int
    end: int
    epoch: int


class StoreWriter:
    """A `Source` for Link.run that stages `stores` (store id -> canonical bytes)."""

    def __init__(self, stores: dict[int, bytes], chunk: int, progress: Progress | None = None, restart: bool = False):
        ids = random.sample(range(1, 256), len(stores))
        self.xfers = [_Xfer(store, data, xid, sha256(data)) for (store, data), xid in zip(stores.items(), ids)]
        self.max_chunk = max(MIN_CHUNK, chunk)
        self.chunk = self.max_chunk
        self.progress = progress
        self.restart = restart
        self.total = sum(x.total for x in self.xfers)
        self._history: deque[bool] = deque(maxlen=HISTORY)  # True = a write was lost
        self._reported = -1

    def _report(self) -> None:
        done = sum(min(x.confirmed, x.total) for x in self.xfers)
        if self.progress and done != self._reported:
            self._reported = done
            self.progress(done, self.total)

    def next_request(self, room: int) -> tuple[int, bytes, Any] | None:
        # Every BEGIN goes first: then no BEGIN takes window space from data frames at a
        # store boundary, where the instrument is also busy checking the finished store.
        for x in self.xfers:
            if not x.done and not x.begun:
                if room < BEGIN_BODY_SIZE:
                    return None
                x.begun = True
                x.begin_attempt += 1
                body = BeginRequest(x.xfer_id, x.store, x.total, x.digest, BEGIN_RESTART if self.restart else 0).encode()
                return Cmd.STAGE_BEGIN, body, _BeginTag(x, x.begin_attempt)
        for x in self.xfers:
            if x.done or x.cursor >= x.total:
                continue  # all sent, answers pending: the next store may start meanwhile
            want = min(self.chunk, x.total - x.cursor)
            if room - WRITE_HEADER_SIZE < want:
                return None  # a sliver would waste a frame's overhead: wait for room
            start, end = x.cursor, x.cursor + want
            x.cursor = end
            body = WriteRequest(x.xfer_id, start, x.data[start:end]).encode()
            return Cmd.STAGE_WRITE, body, _WriteTag(x, start, end, x.epoch)
        return None

    def finished(self) -> bool:
        return all(x.done for x in self.xfers)

    def still_needed(self, tag: Any) -> bool:
        if isinstance(tag, _BeginTag):
            return tag.attempt == tag.xfer.begin_attempt and not tag.xfer.done
        return tag.epoch == tag.xfer.epoch and tag.end > tag.xfer.confirmed

    def _go_back(self, x: _Xfer, offset: int) -> None:
        x.epoch += 1
        x.confirmed = offset
        x.cursor = offset
        self._outcome(lost=True)

    def _outcome(self, lost: bool) -> None:
        self._history.append(lost)
        rate = sum(self._history) / len(self._history)
        if lost and len(self._history) >= 4 and rate > SHRINK_ABOVE and self.chunk > MIN_CHUNK:
            self.chunk = max(MIN_CHUNK, self.chunk // 2)
            self._history.clear()
        elif len(self._history) == HISTORY and rate < GROW_BELOW and self.chunk < self.max_chunk:
            self.chunk = min(self.max_chunk, self.chunk * 2)
            self._history.clear()

    def on_response(self, tag: Any, response: Response) -> None:
        x = tag.xfer
        try:
            if isinstance(tag, _BeginTag):
                if tag.attempt != x.begin_attempt:
                    return
                if response.result != Result.OK:
                    raise refusal(Cmd.STAGE_BEGIN, response.result, f"store {x.store}")
                received = decode_received(response.body)
                if received > x.total:
                    raise ProtocolViolation("The instrument claims to hold more than was announced.", None)
                x.confirmed = max(x.confirmed, received)
                x.cursor = max(x.cursor, received)
            else:
                self._on_write(tag, x, response)
        except MessageError as exc:
            raise ProtocolViolation(f"The instrument sent a malformed answer: {exc}.", None) from None
        self._report()

    def _on_write(self, tag: _WriteTag, x: _Xfer, response: Response) -> None:
        if response.result == Result.OK:
            received = decode_received(response.body)
            x.confirmed = max(x.confirmed, min(received, x.total))
            self._outcome(lost=False)
            return
        if tag.epoch != x.epoch:
            return  # answer to a write sent before the last go-back: already dealt with
        if response.result == Result.OFFSET_GAP:
            self._go_back(x, decode_received(response.body))
        elif response.result == Result.NO_TRANSFER:
            # The BEGIN was lost (or the instrument dropped the transfer): begin again; the
            # instrument then says how much it still holds.
            self._go_back(x, 0)
            x.begun = False
        else:
            raise refusal(Cmd.STAGE_WRITE, response.result, f"store {x.store}")
