"""The task runner: work runs on a pool thread; results, errors and progress arrive on the GUI
thread; the GUI thread keeps running while a task blocks; cancellation and tracking work."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox, QWidget

from certbench.core.errors import InputError
from certbench.gui import errors as gui_errors
from certbench.gui.tasks import Task, TaskCancelled, task_runner

GUI = threading.get_ident


def test_result_arrives_on_gui_thread_from_a_worker(qtbot):
    gui_thread = threading.get_ident()
    seen = {}
    task = Task(None, lambda _ctl: threading.get_ident()).on_success(
        lambda worker: seen.update(worker=worker, callback=threading.get_ident())
    )
    with qtbot.waitSignal(task_runner().idle, timeout=5000):
        task.start()
    assert seen["worker"] != gui_thread
    assert seen["callback"] == gui_thread
    assert task.finished and task.result == seen["worker"]


def test_error_arrives_on_gui_thread_with_its_type_and_hint(qtbot):
    gui_thread = threading.get_ident()
    failures = []

    def fail(_ctl):
        raise InputError("The scan is not a serial number.", "Scan the label on the back.")

    task = Task(None, fail).on_failure(lambda exc: failures.append((exc, threading.get_ident())))
    task.on_success(lambda _r: failures.append("success?"))
    with qtbot.waitSignal(task_runner().idle, timeout=5000):
        task.start()
    [(exc, thread)] = failures
    assert isinstance(exc, InputError) and exc.hint == "Scan the label on the back."
    assert thread == gui_thread


def test_progress_is_delivered_in_order_on_gui_thread(qtbot):
    gui_thread = threading.get_ident()
    values, threads = [], set()

    def work(ctl):
        for i in range(200):
            ctl.progress(i)
        return "done"

    task = Task(None, work).on_progress(lambda v: (values.append(v), threads.add(threading.get_ident())))
    results = []
    task.on_success(results.append)
    with qtbot.waitSignal(task_runner().idle, timeout=5000):
        task.start()
    assert values == list(range(200))
    assert threads == {gui_thread}
    assert results == ["done"]


def test_gui_thread_keeps_running_while_a_task_blocks(qtbot):
    """The task blocks until the GUI thread's timer has ticked five times: it can only
    finish with True if the event loop kept running while the task was blocked."""
    ticks = []
    released = threading.Event()
    timer = QTimer()
    timer.setInterval(5)

    def tick():
        ticks.append(1)
        if len(ticks) >= 5:
            released.set()

    timer.timeout.connect(tick)
    timer.start()
    results = []
    task = Task(None, lambda _ctl: released.wait(timeout=20)).on_success(results.append)
    with qtbot.waitSignal(task_runner().idle, timeout=30_000):
        task.start()
    timer.stop()
    assert results == [True]


def test_cancellation_stops_the_task_and_skips_success(qtbot):
    started = threading.Event()
    outcome = []

    def work(ctl):
        started.set()
        while True:
            ctl.check_cancelled()
            time.sleep(0.005)

    task = (
        Task(None, work)
        .on_success(lambda _r: outcome.append("success"))
        .on_failure(lambda exc: outcome.append(("failure", exc)))
        .on_cancelled(lambda: outcome.append("cancelled"))
        .start()
    )
    assert started.wait(5)
    assert task_runner().busy and task in task_runner().running()
    with qtbot.waitSignal(task_runner().idle, timeout=5000):
        task.cancel()
    assert outcome == ["cancelled"]
    assert isinstance(task.error, TaskCancelled)
    assert not task_runner().busy


def test_callbacks_skipped_when_parent_widget_is_gone(qtbot):
    gate = threading.Event()
    calls = []
    parent = QWidget()
    Task(parent, lambda _ctl: gate.wait(5)).on_success(calls.append).on_finished(lambda: calls.append("fin")).start()
    parent.deleteLater()
    qtbot.waitUntil(lambda: not _alive(parent), timeout=5000)
    with qtbot.waitSignal(task_runner().idle, timeout=5000):
        gate.set()
    assert calls == []


def _alive(obj) -> bool:
    import shiboken6

    return shiboken6.isValid(obj)


def test_failure_without_handler_is_shown_in_the_error_dialog(qtbot, tmp_path):
    gui_errors.install_excepthook(tmp_path / "certbench.log")
    before = len(gui_errors.error_dialogs())
    parent = QWidget()
    qtbot.addWidget(parent)

    def fail(_ctl):
        raise InputError("The barcode could not be read.", "Scan it again, slowly.")

    with qtbot.waitSignal(task_runner().idle, timeout=5000):
        Task(parent, fail).start()
    qtbot.waitUntil(lambda: len(gui_errors.error_dialogs()) > before, timeout=5000)
    dialog: QMessageBox = gui_errors.error_dialogs()[-1]
    assert dialog.text() == "The barcode could not be read."
    assert "Scan it again, slowly." in dialog.informativeText()
    dialog.close()


def test_a_task_starts_only_once(qtbot):
    task = Task(None, lambda _ctl: 1)
    with qtbot.waitSignal(task_runner().idle, timeout=5000):
        task.start()
    import pytest

    with pytest.raises(RuntimeError):
        task.start()


def test_signal_emit_keeps_reference_counts_intact(qtbot):
    """PySide6 6.12.0 on Python 3.11 drops a reference to True on every Signal.emit(), so a
    busy window crashes ("deallocating True"). pyproject excludes that version; this test
    catches any other release with the same defect before a bench does."""
    import sys

    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        fired = Signal(object)

    emitter = Emitter()
    emitter.fired.connect(lambda _v: None)
    before = sys.getrefcount(True)
    for i in range(100):
        emitter.fired.emit(i)
    assert sys.getrefcount(True) - before > -50


def test_a_burst_of_progress_reaches_the_gui_thread_in_one_delivery(qtbot):
    """Values sent while the GUI thread is busy are delivered together, in order: one wake-up
    of the GUI thread (and one wait for the GIL) per burst, not one per value."""
    sent = threading.Event()

    def work(ctl):
        for i in range(100):
            ctl.progress(i)
        sent.set()

    values, deliveries = [], []
    task = Task(None, work).on_progress(values.append)
    deliver = task._deliver_progress
    task._deliver_progress = lambda: (deliveries.append(1), deliver())
    task.start()
    assert sent.wait(5)  # the GUI thread has not run its event loop meanwhile
    qtbot.waitUntil(lambda: task.finished, timeout=5000)
    assert values == list(range(100))
    assert deliveries == [1]
