"""Window geometry and last choices, kept between runs in an INI file beside the settings
(`config_dir()/gui-state.ini`), so CERTBENCH_HOME (tests, demo) isolates it like the rest.
Only layout and choices go here: no secret, nothing a workflow depends on."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from certbench.core import paths

FILE_NAME = "gui-state.ini"


def ui_settings() -> QSettings:
    return QSettings(str(paths.config_dir() / FILE_NAME), QSettings.Format.IniFormat)
