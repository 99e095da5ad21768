"""Errors shown to people: the application-wide exception hook and the error dialog.

An unexpected exception anywhere (a slot, a thread, a task without its own failure handler)
is logged with its traceback (redacted by the log filter) and shown in a dialog with the
message, the hint when it is a `CertbenchError`, and where the log file is. Nothing crashes
silently and nothing secret reaches the screen: the text shown passes through
`secrets.redact` too. Dialogs are opened non-modally (`open()`), so the hook never starts a
nested event loop from inside whatever failed.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from certbench.core import secrets
from certbench.core.errors import CertbenchError

log = logging.getLogger("certbench.gui")


def _tr(text: str) -> str:
    return QCoreApplication.translate("ErrorDialog", text)


class _ErrorReporter(QObject):
    """Marshals reports from any thread to the GUI thread and keeps at most one error dialog
    open: errors arriving while it is shown are counted into it, not stacked."""

    reported = Signal(object, object)  # exception, parent widget or None

    def __init__(self) -> None:
        super().__init__()
        self.log_path: Path | None = None
        self.dialog: QMessageBox | None = None
        self.extra = 0
        self.shown: list[QMessageBox] = []  # every dialog opened (tests look at them)
        self.reported.connect(self._show)

    def _show(self, exc: BaseException, parent: QWidget | None) -> None:
        if self.dialog is not None and shiboken6.isValid(self.dialog) and self.dialog.isVisible():
            self.extra += 1
            self.dialog.setInformativeText(
                _informative(exc_hint(self.dialog.property("certbench_exc")), self.log_path)
                + "\n\n" + _tr("%n more error(s) happened since; see the log file.").replace("%n", str(self.extra))
            )
            return
        if parent is not None and not shiboken6.isValid(parent):
            parent = None
        self.extra = 0
        self.dialog = build_error_dialog(exc, parent, self.log_path)
        self.shown.append(self.dialog)
        self.dialog.open()


_reporter: _ErrorReporter | None = None


def _get_reporter() -> _ErrorReporter:
    global _reporter
    if _reporter is None or not shiboken6.isValid(_reporter):
        _reporter = _ErrorReporter()
    return _reporter


def exc_hint(exc: object) -> str | None:
    return exc.hint if isinstance(exc, CertbenchError) else None


def _informative(hint: str | None, log_path: Path | None) -> str:
    parts = []
    if hint:
        parts.append(secrets.redact(hint))
    if log_path:
        parts.append(_tr("Details are in the log file: {path}").format(path=log_path))
    return "\n\n".join(parts)


def describe(exc: BaseException) -> str:
    """The one-line message a person reads."""
    if isinstance(exc, CertbenchError):
        return secrets.redact(exc.message)
    text = str(exc).strip()
    name = type(exc).__name__
    return secrets.redact(
        _tr("Unexpected error ({name}): {text}").format(name=name, text=text) if text
        else _tr("Unexpected error ({name}).").format(name=name)
    )


def build_error_dialog(exc: BaseException, parent: QWidget | None, log_path: Path | None) -> QMessageBox:
    box = QMessageBox(parent)
    box.setObjectName("errorDialog")
    unexpected = not isinstance(exc, CertbenchError)
    box.setIcon(QMessageBox.Icon.Critical if unexpected else QMessageBox.Icon.Warning)
    box.setWindowTitle(_tr("Certbench: unexpected error") if unexpected else _tr("Certbench"))
    box.setText(describe(exc))
    box.setInformativeText(_informative(exc_hint(exc), log_path))
    box.setProperty("certbench_exc", exc)
    if unexpected:
        box.setDetailedText(secrets.redact("".join(traceback.format_exception(exc))))
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    return box


def report_exception(exc: BaseException, parent: QObject | None = None) -> None:
    """Log `exc` and show it. Safe from any thread."""
    if isinstance(exc, CertbenchError):
        log.warning("%s: %s", type(exc).__name__, exc)
    else:
        log.error("Unexpected error", exc_info=(type(exc), exc, exc.__traceback__))
    if QApplication.instance() is None:
        return
    widget = parent if isinstance(parent, QWidget) else None
    _get_reporter().reported.emit(exc, widget)


def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        QApplication.quit()
        return
    if exc.__traceback__ is None and tb is not None:
        exc = exc.with_traceback(tb)
    log.error("Uncaught exception", exc_info=(exc_type, exc, tb))
    if QApplication.instance() is not None:
        _get_reporter().reported.emit(exc, None)


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        excepthook(args.exc_type, args.exc_value, args.exc_traceback)


def install_excepthook(log_path: Path | None) -> None:
    """Route every uncaught exception (GUI thread and other threads) to log + dialog."""
    reporter = _get_reporter()
    reporter.log_path = log_path
    sys.excepthook = excepthook
    threading.excepthook = _thread_hook


def error_dialogs() -> list[QMessageBox]:
    """The error dialogs opened so far that still exist (for tests and screenshots)."""
    return [d for d in _get_reporter().shown if shiboken6.isValid(d)]


__all__ = ["build_error_dialog", "describe", "error_dialogs", "excepthook", "install_excepthook", "report_exception"]
