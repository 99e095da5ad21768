"""Where Certbench keeps its files.

`CERTBENCH_HOME`, when set, puts config, data and logs under one folder: tests give each test
its own, demo mode uses a throw-away one. Otherwise the platform's usual places are used
(platformdirs): on Windows %LOCALAPPDATA%\\MediCorp\\Certbench for data and logs, and
%APPDATA%\\MediCorp\\Certbench for settings. A machine-wide settings file that IT pre-fills
lives in the site config directory (%PROGRAMDATA%\\MediCorp\\Certbench on Windows).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "Certbench"
APP_AUTHOR = "MediCorp"


def _home() -> Path | None:
    home = os.environ.get("CERTBENCH_HOME")
    return Path(home) if home else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    home = _home()
    if home:
        return _ensure(home / "config")
    return _ensure(Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR, roaming=True)))


def site_config_dir() -> Path:
    """Machine-wide settings that IT deploys; read, never written by the application."""
    home = _home()
    if home:
        return home / "site-config"
    return Path(platformdirs.site_config_dir(APP_NAME, APP_AUTHOR))


def data_dir() -> Path:
    home = _home()
    if home:
        return _ensure(home / "data")
    return _ensure(Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR)))


def log_dir() -> Path:
    home = _home()
    if home:
        return _ensure(home / "logs")
    return _ensure(Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR)))
