"""GUI test fixtures: every test leaves no task running and no hook installed behind it."""

from __future__ import annotations

import sys
import threading

import pytest

from certbench.gui.tasks import task_runner


@pytest.fixture(autouse=True)
def _tasks_drained(qtbot):
    yield
    runner = task_runner()
    runner.cancel_all()
    qtbot.waitUntil(lambda: not runner.busy, timeout=10_000)


@pytest.fixture
def dialog(qtbot):
    """A Settings dialog on the default settings, shown, with its start-up work finished."""
    from certbench.core.config import default_settings
    from certbench.gui.settings_dialog import SettingsDialog
    from settings_helpers import settle

    d = SettingsDialog(default_settings())
    qtbot.addWidget(d)
    d.show()
    settle(qtbot)
    return d


@pytest.fixture
def restore_hooks():
    saved = sys.excepthook, threading.excepthook
    yield
    sys.excepthook, threading.excepthook = saved


def pytest_collection_modifyitems(items):
    # The offscreen platform says this for every top-level window it shows; it is about the
    # test platform, not the application, so it must not fail the strict Qt-warning check.
    for item in items:
        if "tests/gui/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"))
