"""Window geometry and last choices, kept between runs in an INI file beside the settings
(`config_dir()/gui-state.ini`), so CERTBENCH_HOME (tests, demo) isolates it like the rest.
Only layout and choices go here: no secret, nothing a workflow depends on."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings, QSize
from PySide6.QtWidgets import QWidget

from certbench.core import paths

FILE_NAME = "gui-state.ini"


def ui_settings() -> QSettings:
    return QSettings(str(paths.config_dir() / FILE_NAME), QSettings.Format.IniFormat)


def restore_geometry(widget: QWidget, key: str, *, position: bool = True) -> bool:
    """Size (and, with `position`, place) of `widget` as it was last closed; call before
    show(). Windows opened several at a time (technician wizards) take the size only, so
    they do not land on top of each other. False when nothing was saved yet."""
    state = ui_settings()
    if position:
        geometry = state.value(f"{key}/geometry")
        return isinstance(geometry, QByteArray) and widget.restoreGeometry(geometry)
    size = state.value(f"{key}/size")
    if isinstance(size, QSize) and size.isValid():
        widget.resize(size)
        return True
    return False


def save_geometry(widget: QWidget, key: str) -> None:
    """From the window's hideEvent (every way of closing passes there)."""
    state = ui_settings()
    state.setValue(f"{key}/geometry", widget.saveGeometry())
    state.setValue(f"{key}/size", widget.size())
