"""Helpers shared by the Settings dialog tests."""

from __future__ import annotations

from certbench.gui.settings_dialog import SettingsDialog
from certbench.gui.tasks import task_runner


def settle(qtbot) -> None:
    """Wait until the dialog's background work (test connection, detect ports) is done."""
    qtbot.waitUntil(lambda: not task_runner().busy, timeout=10_000)


def type_into(dialog: SettingsDialog, key: str, text: str) -> None:
    dialog.fields[key].setText(text)
    dialog.validate()
