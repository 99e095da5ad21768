"""Scans reaching a technician wizard: a keyboard-wedge scanner's burst of keys, wherever the
focus is in the wizard, and a USB-serial scanner on a COM port. Both end in `scanned(text)`.

Keyboard wedge: an event filter on the wizard and on its focused widget (keys go to the focus
widget, then up to its parents) sees every key press in the wizard's window and feeds
`core.naming.scanner.WedgeDetector`, which tells a scanner (a character
every few ms, then Enter, framed by the configured prefix/suffix) from a person. A detected
scan's Enter is swallowed (it must not press the wizard's default button), the burst is
removed again from the text field it may have landed in, and the characters of a burst are
kept away from widgets that are not text fields (a space would press a focused button).
A person's keys go where they always go.

Not an application-wide filter: that would run Python for every event of the application
(each paint of each widget), and every one of those calls waits for the GIL the workflow
threads hold; with four wizards open that made a repaint of the provisioning page stall the
GUI thread for tens of ms (bench/gui_responsiveness). The focus widget is followed through
`QApplication.focusChanged`: a keyboard (or scanner) types into the active window's focus
widget, and that signal fires whenever it changes.
"""

from __future__ import annotations

import logging
import time

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QPlainTextEdit, QTextEdit, QWidget

from certbench.core.naming.scanner import SerialScanner, WedgeDetector
from certbench.gui.tasks import Task

log = logging.getLogger(__name__)

GS = "\x1d"
_TEXT_INPUTS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)
_ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
_RESET = (Qt.Key.Key_Backspace, Qt.Key.Key_Escape, Qt.Key.Key_Delete)


def _within(widget: QWidget, ancestor: QWidget) -> bool:
    while widget is not None:
        if widget is ancestor:
            return True
        widget = widget.parentWidget()
    return False


class WedgeFilter(QObject):
    """Install with `install()` while the wizard is open; `remove()` when it closes."""

    scanned = Signal(str)

    def __init__(self, window: QWidget, detector: WedgeDetector) -> None:
        super().__init__(window)
        self.window = window
        self.detector = detector
        self._last: tuple | None = None  # (receiver, key, text, timestamp, swallowed) of the last key press
        self._last_char_at: float | None = None
        self._watched: QWidget | None = None  # the focus widget inside the window, when there is one
        self.installed = False

    def install(self) -> None:
        if not self.installed:
            self.window.installEventFilter(self)  # keys when nothing inside has the focus, and propagated ones
            QApplication.instance().focusChanged.connect(self._focus_changed)
            self.installed = True
            self._watch(QApplication.focusWidget() or self.window.focusWidget())

    def remove(self) -> None:
        if self.installed:
            QApplication.instance().focusChanged.disconnect(self._focus_changed)
            self.window.removeEventFilter(self)
            self._watch(None)
            self.installed = False
        self.detector.reset()

    def watched(self) -> QWidget | None:
        return self._watched

    def _focus_changed(self, _old: QWidget | None, now: QWidget | None) -> None:
        if now is not None and now.window() is self.window:
            self._watch(now)

    def _watch(self, widget: QWidget | None) -> None:
        if widget is self._watched:
            return
        if self._watched is not None and shiboken6.isValid(self._watched):
            self._watched.removeEventFilter(self)
        self._watched = None
        if widget is not None and widget is not self.window and widget.window() is self.window:
            widget.installEventFilter(self)
            self._watched = widget

    # -- the filter ------------------------------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.WindowActivate and obj is self.window:
            self._watch(self.window.focusWidget())
            return False
        if event.type() != QEvent.Type.KeyPress or not isinstance(obj, QWidget):
            return False
        if not _within(obj, self.window):
            return False
        key_event: QKeyEvent = event  # type: ignore[assignment]
        signature = (key_event.key(), key_event.text(), key_event.timestamp(), int(key_event.modifiers().value))
        # A key a widget ignores travels up to its parents, through this filter each time.
        last = self._last
        if last is not None and last[1:4] == signature[:3] and obj is not last[0] and _within(last[0], obj) \
                and last[4] == signature[3]:
            return last[5]
        swallow = self._key(obj, key_event)
        self._last = (obj, *signature, swallow)
        return swallow

    def _now(self, event: QKeyEvent) -> float:
        # The platform's own time of the key press when it gives one: a GUI thread busy for a
        # moment must not turn a person's typing into a "burst" by delivering it late.
        stamp = event.timestamp()
        return stamp / 1000.0 if stamp > 0 else time.monotonic()

    def _key(self, obj: QWidget, event: QKeyEvent) -> bool:
        key, text, mods = event.key(), event.text(), event.modifiers()
        now = self._now(event)
        if key in _ENTER and not (mods & ~Qt.KeyboardModifier.KeypadModifier):
            return self.enter(now, obj)
        if key in _RESET:
            self.detector.reset()
            return False
        if not text:
            return False  # Shift, Ctrl...: scanners press Shift for capitals
        framing = self.detector.prefix + self.detector.suffix
        command = mods & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier |
                          Qt.KeyboardModifier.MetaModifier)
        if text == GS or (text.isprintable() and not command) or (text in framing):
            return self.char(text, now, obj)
        return False

    def char(self, text: str, now: float, receiver: QWidget | None = None) -> bool:
        """One character; True when it must not reach `receiver` (part of a burst, and
        `receiver` is not a text field)."""
        in_burst = self._last_char_at is not None and now - self._last_char_at < self.detector.max_gap
        self._last_char_at = now
        for ch in text:
            self.detector.key(ch, now)
        return in_burst and receiver is not None and not isinstance(receiver, _TEXT_INPUTS)

    def enter(self, now: float, receiver: QWidget | None = None) -> bool:
        """The Enter key; True (swallowed) when it ended a scan."""
        self._last_char_at = None
        result = self.detector.enter(now)
        if result.kind != "scan":
            return False
        burst = self.detector.prefix + result.text + self.detector.suffix
        if isinstance(receiver, QLineEdit):
            _remove_typed(receiver, burst)
        log.info("Keyboard-wedge scan of %d characters", len(result.text))
        self.scanned.emit(result.text)
        return True


def _remove_typed(field: QLineEdit, burst: str) -> None:
    """The burst went into this field as typing: take it out again, leaving what was there."""
    text, cursor = field.text(), field.cursorPosition()
    typed = "".join(ch for ch in burst if ch.isprintable())
    if typed and text[:cursor].endswith(typed):
        field.setText(text[: cursor - len(typed)] + text[cursor:])
        field.setCursorPosition(cursor - len(typed))


# -- simulated wedge scanner (demo labels, tests, benchmark) -------------------------------------


def type_burst(target: QWidget, text: str, *, interval_ms: int = 4, on_done=None) -> QTimer:
    """Send `text` + Enter to `target` as a keyboard-wedge scanner does: one key press and
    release every `interval_ms` ms, posted through the event loop (so the event filter sees
    them exactly like real keys). Each key carries the time the scanner "pressed" it, as the
    platform's events do: a busy GUI thread may deliver them late, never closer together.
    A scanner types into the active window, so `target`'s window is activated first."""
    target.window().activateWindow()
    keys = [*text, "\r"]
    clock = [int(time.monotonic() * 1000)]
    timer = QTimer(target)
    timer.setInterval(interval_ms)

    def step() -> None:
        if not keys:
            timer.stop()
            timer.deleteLater()
            if on_done is not None:
                on_done()
            return
        ch = keys.pop(0)
        receiver = target.focusWidget() or target
        if ch == "\r":
            key, mods, text_ = Qt.Key.Key_Return, Qt.KeyboardModifier.NoModifier, "\r"
        elif ch == GS:
            key, mods, text_ = Qt.Key.Key_BracketRight, Qt.KeyboardModifier.ControlModifier, GS
        else:
            key = Qt.Key(ord(ch.upper())) if ch.isalnum() else Qt.Key.Key_unknown
            mods = Qt.KeyboardModifier.ShiftModifier if ch.isupper() else Qt.KeyboardModifier.NoModifier
            text_ = ch
        clock[0] += interval_ms
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            event = QKeyEvent(kind, key, mods, text_)
            event.setTimestamp(clock[0])
            QApplication.postEvent(receiver, event)

    timer.timeout.connect(step)
    timer.start()
    return timer


# -- USB-serial scanner ------------------------------------------------------------------------------


class SerialScanSource(QObject):
    """A `SerialScanner` on the port from Settings > Bench; scans arrive by signal on the GUI
    thread. Opening and closing the port run on the task runner."""

    scanned = Signal(str)
    failed = Signal(object)  # ScannerError

    def __init__(self, port: str, prefix: str = "", suffix: str = "", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.port = port
        self.scanner = SerialScanner(port, lambda event: self.scanned.emit(event.text),
                                     on_error=lambda exc: self.failed.emit(exc), prefix=prefix, suffix=suffix)

    def start(self) -> Task:
        scanner = self.scanner
        return Task(self, lambda _ctl: scanner.start(), name=f"scanner-{self.port}", keeps_open=False) \
            .on_failure(self.failed.emit) \
            .start()

    def stop(self) -> None:
        scanner = self.scanner
        Task(None, lambda _ctl: scanner.stop(), name=f"scanner-stop-{self.port}", keeps_open=False).start()


__all__ = ["SerialScanSource", "WedgeFilter", "type_burst"]
