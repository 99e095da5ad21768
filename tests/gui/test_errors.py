"""The application-wide exception hook: logs the redacted traceback and shows a dialog with
the message, the hint and the log file; errors from other threads arrive on the GUI thread."""

from __future__ import annotations

import logging
import sys
import threading

import pytest
from PySide6.QtWidgets import QMessageBox

from certbench.core import secrets
from certbench.core.errors import ServiceError
from certbench.core.logs import setup_logging
from certbench.gui import errors as gui_errors

SECRET = "SharedAccessSignature sr=app&sig=TOPSECRETsignature123&skn=admin"


@pytest.fixture
def hooked(restore_hooks):
    path = setup_logging()
    gui_errors.install_excepthook(path)
    yield path
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "baseFilename", None) == str(path):
            handler.close()
            root.removeHandler(handler)


def _raise(exc: BaseException):
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001
        return caught


def _new_dialog(qtbot, before: int) -> QMessageBox:
    qtbot.waitUntil(lambda: len(gui_errors.error_dialogs()) > before, timeout=5000)
    return gui_errors.error_dialogs()[-1]


def test_hook_is_installed_for_gui_and_other_threads(hooked):
    assert sys.excepthook is gui_errors.excepthook
    assert threading.excepthook is gui_errors._thread_hook


def test_certbench_error_shows_message_hint_and_log_path_and_logs_redacted(qtbot, hooked):
    secrets.register_secret_value(SECRET)
    exc = _raise(ServiceError(f"IoT Central refused the token {SECRET}.", "Replace the API token in Settings."))
    before = len(gui_errors.error_dialogs())
    gui_errors.excepthook(type(exc), exc, exc.__traceback__)
    dialog = _new_dialog(qtbot, before)
    assert dialog.isVisible()
    assert dialog.text() == "IoT Central refused the token ***."
    assert "Replace the API token in Settings." in dialog.informativeText()
    assert str(hooked) in dialog.informativeText()
    assert "TOPSECRET" not in dialog.detailedText() + dialog.text() + dialog.informativeText()
    dialog.close()
    logged = hooked.read_text(encoding="utf-8")
    assert "Uncaught exception" in logged and "Traceback" in logged and "_raise" in logged
    assert "IoT Central refused the token ***." in logged
    assert "TOPSECRET" not in logged


def test_unexpected_error_dialog_carries_the_redacted_traceback(qtbot, hooked):
    secrets.register_secret_value("hunter2-password")
    exc = _raise(KeyError("hunter2-password"))
    before = len(gui_errors.error_dialogs())
    gui_errors.excepthook(type(exc), exc, exc.__traceback__)
    dialog = _new_dialog(qtbot, before)
    assert dialog.text().startswith("Unexpected error (KeyError)")
    assert "Traceback" in dialog.detailedText() and "_raise" in dialog.detailedText()
    assert "hunter2" not in dialog.text() + dialog.detailedText()
    assert "hunter2" not in hooked.read_text(encoding="utf-8")
    dialog.close()


def test_error_in_another_thread_reaches_a_dialog(qtbot, hooked):
    before = len(gui_errors.error_dialogs())

    def boom():
        raise RuntimeError("serial reader died")

    thread = threading.Thread(target=boom, name="reader")
    thread.start()
    thread.join()
    dialog = _new_dialog(qtbot, before)
    assert "serial reader died" in dialog.text()
    assert "serial reader died" in hooked.read_text(encoding="utf-8")
    dialog.close()


def test_errors_while_a_dialog_is_open_are_counted_not_stacked(qtbot, hooked):
    before = len(gui_errors.error_dialogs())
    first = _raise(ValueError("first"))
    gui_errors.excepthook(ValueError, first, first.__traceback__)
    dialog = _new_dialog(qtbot, before)
    for _ in range(3):
        again = _raise(ValueError("again"))
        gui_errors.excepthook(ValueError, again, again.__traceback__)
    qtbot.waitUntil(lambda: "3 more error(s)" in dialog.informativeText(), timeout=5000)
    assert len(gui_errors.error_dialogs()) == before + 1
    dialog.close()
