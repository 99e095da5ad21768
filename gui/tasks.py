"""Run core calls off the GUI thread and hear back on it (the shape of Anki's QueryOp).

    Task(self, lambda ctl: check_registry(settings.registry)) \\
        .on_success(self._show_result) \\
        .on_failure(self._show_error) \\
        .on_progress(self._advance) \\
        .start()

`fn` runs on a pool thread and receives a `TaskControl`: `ctl.progress(value)` may be called
from that thread as often as needed (each value reaches `on_progress` on the GUI thread, in
order), and `ctl.cancelled` / `ctl.check_cancelled()` tell it that `Task.cancel()` was asked.
Callbacks run on the GUI thread, and only while the parent widget still exists. A failure
without an `on_failure` callback is shown by the application's error dialog.

Every started task is tracked by the `TaskRunner`, so the window can tell whether work is
still running and refuse to close (or cancel it) instead of killing it half-way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal, Slot

from certbench.core.errors import CertbenchError

log = logging.getLogger(__name__)

# Enough for eight instruments provisioning at once plus the dashboard's own look-ups.
MAX_THREADS = 12


class TaskCancelled(CertbenchError):
    """Raised inside a task by `TaskControl.check_cancelled()` after `Task.cancel()`."""

    def __init__(self) -> None:
        super().__init__("The operation was cancelled.")


def _ignore_call() -> None:
    pass


class TaskControl:
    """Given to the task's function: progress reporting and the cancellation flag. Both are
    safe to use from the worker thread.

    Progress values queue here and one queued signal carries all that arrived until the GUI
    thread takes them: a burst of events costs the GUI thread one wake-up (and one wait for
    the GIL the workers hold), not one per value."""

    def __init__(self, emit_progress: Callable[[], None], cancel_event: threading.Event) -> None:
        self._emit = emit_progress
        self._cancel = cancel_event
        self._lock = threading.Lock()
        self._pending: list[Any] = []

    def progress(self, value: Any) -> None:
        with self._lock:
            self._pending.append(value)
            first = len(self._pending) == 1
        if first:
            self._emit()

    def take_progress(self) -> list[Any]:
        """On the GUI thread: the values queued so far, oldest first."""
        with self._lock:
            values, self._pending = self._pending, []
        return values

    def detach(self) -> None:
        """After the function returned: late progress calls are dropped."""
        self._emit = _ignore_call

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise TaskCancelled()


class _Relay(QObject):
    """Lives on the GUI thread; the worker emits through it, so every signal is queued to
    the GUI thread. Kept alive by the Task until the finished signal has been handled."""

    succeeded = Signal(object)
    failed = Signal(object)
    progressed = Signal()  # values are in the TaskControl's queue
    done = Signal()


class Task(QObject):
    """One call of `fn(ctl)` on the pool. Configure with the `on_*` methods, then `start()`."""

    def __init__(
        self, parent: QObject | None, fn: Callable[[TaskControl], Any], *, name: str = "", keeps_open: bool = True
    ) -> None:
        super().__init__(None)  # not a Qt child: a parent closing mid-task must not delete us
        self._parent = parent
        # False for look-ups that may be abandoned (dashboard reads): the window closes without asking.
        self.keeps_open = keeps_open
        self._fn = fn
        self.name = name or getattr(fn, "__qualname__", "task")
        self._success: Callable[[Any], None] | None = None
        self._failure: Callable[[BaseException], None] | None = None
        self._progress: Callable[[Any], None] | None = None
        self._cancelled_cb: Callable[[], None] | None = None
        self._finally: Callable[[], None] | None = None
        self._cancel = threading.Event()
        self._relay: _Relay | None = None
        self._control: TaskControl | None = None
        self.running = False
        self.finished = False
        self.result: Any = None
        self.error: BaseException | None = None

    # -- configuration -------------------------------------------------------------------------
    def on_success(self, callback: Callable[[Any], None]) -> Task:
        self._success = callback
        return self

    def on_failure(self, callback: Callable[[BaseException], None]) -> Task:
        self._failure = callback
        return self

    def on_progress(self, callback: Callable[[Any], None]) -> Task:
        self._progress = callback
        return self

    def on_cancelled(self, callback: Callable[[], None]) -> Task:
        self._cancelled_cb = callback
        return self

    def on_finished(self, callback: Callable[[], None]) -> Task:
        """Runs after success, failure or cancellation (e.g. to re-enable a button)."""
        self._finally = callback
        return self

    # -- running -------------------------------------------------------------------------------
    def start(self, runner: TaskRunner | None = None) -> Task:
        if self.running or self.finished:
            raise RuntimeError(f"Task {self.name} was already started.")
        relay = _Relay()
        relay.succeeded.connect(self._deliver_success)
        relay.failed.connect(self._deliver_failure)
        relay.progressed.connect(self._deliver_progress)
        relay.done.connect(self._deliver_done)
        self._relay = relay
        self.running = True
        (runner or task_runner()).track(self)
        control = TaskControl(relay.progressed.emit, self._cancel)
        self._control = control
        fn, name = self._fn, self.name
        # The worker drops its reference before it ends, so the relay is always destroyed on
        # the GUI thread (by the Task), never on the worker.
        box = [relay]

        def work() -> None:
            threading.current_thread().name = f"task:{name}"
            out = box.pop()
            try:
                result = fn(control)
            except BaseException as exc:  # noqa: BLE001 - every failure is delivered, none lost
                out.failed.emit(exc)
            else:
                out.succeeded.emit(result)
            finally:
                control.detach()
                out.done.emit()
                del out

        (runner or task_runner()).pool.start(work)
        return self

    def cancel(self) -> None:
        """Ask the function to stop; it notices at its next `check_cancelled()`."""
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def _parent_alive(self) -> bool:
        return self._parent is None or shiboken6.isValid(self._parent)

    @Slot(object)
    def _deliver_success(self, result: Any) -> None:
        self.result = result
        if self._success and self._parent_alive():
            self._success(result)

    @Slot(object)
    def _deliver_failure(self, exc: BaseException) -> None:
        self.error = exc
        if not self._parent_alive():
            log.info("Task %s failed after its window closed: %s", self.name, exc)
            return
        if isinstance(exc, TaskCancelled):
            log.info("Task %s cancelled", self.name)
            if self._cancelled_cb:
                self._cancelled_cb()
            return
        if self._failure:
            self._failure(exc)
            return
        from certbench.gui.errors import report_exception

        report_exception(exc, parent=self._parent if isinstance(self._parent, QObject) else None)

    @Slot()
    def _deliver_progress(self) -> None:
        values = self._control.take_progress() if self._control is not None else []
        for value in values:
            if not (self._progress and self._parent_alive()):
                return
            self._progress(value)

    @Slot()
    def _deliver_done(self) -> None:
        self.running = False
        self.finished = True
        try:
            if self._finally and self._parent_alive():
                self._finally()
        finally:
            task_runner().untrack(self)


class TaskRunner(QObject):
    """The pool and the set of running tasks (held here so none is garbage-collected while
    it runs). `idle` is emitted when the last running task has finished."""

    idle = Signal()
    busy_changed = Signal(bool)

    def __init__(self, max_threads: int = MAX_THREADS) -> None:
        super().__init__()
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(max_threads)
        self._tasks: list[Task] = []
        self._retired: list[Task] = []

    def track(self, task: Task) -> None:
        self._tasks.append(task)
        if len(self._tasks) == 1:
            self.busy_changed.emit(True)

    def untrack(self, task: Task) -> None:
        if task in self._tasks:
            self._tasks.remove(task)
            # Released on the next turn of the event loop, not inside the task's own slot
            # (deleting a QObject while Qt delivers an event to it is undefined).
            self._retired.append(task)
            QTimer.singleShot(0, self._retired.clear)
            if not self._tasks:
                self.busy_changed.emit(False)
                self.idle.emit()

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def must_finish(self) -> list[Task]:
        """Running tasks the window must not be closed under (changes, not look-ups)."""
        return [task for task in self._tasks if task.keeps_open]

    def running(self) -> list[Task]:
        return list(self._tasks)

    def cancel_all(self) -> None:
        for task in self._tasks:
            task.cancel()

    def wait_for_threads(self, msecs: int = 10_000) -> bool:
        """Block until the pool's threads are done: only at exit, after the window closed."""
        return self.pool.waitForDone(msecs)


_runner: TaskRunner | None = None


def task_runner() -> TaskRunner:
    """The application's runner (made on first use, on the GUI thread)."""
    global _runner
    if _runner is None or not shiboken6.isValid(_runner):
        _runner = TaskRunner()
    return _runner


__all__ = ["MAX_THREADS", "Task", "TaskCancelled", "TaskControl", "TaskRunner", "task_runner"]
