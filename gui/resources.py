"""Icons and other files from the repository's resources/ folder (or a frozen build's copy)."""

from __future__ import annotations

import functools
import importlib.resources
import os
import sys
from pathlib import Path

from PySide6.QtGui import QIcon, QPixmap


def resources_dir() -> Path:
    """`CERTBENCH_RESOURCES` when set; otherwise the installed `certbench.resources` package
    (source tree, wheel or PyInstaller bundle alike), with the bundle's top-level copy as a
    fallback for builds that collected the folder as plain data."""
    override = os.environ.get("CERTBENCH_RESOURCES")
    if override:
        return Path(override)
    packaged = Path(str(importlib.resources.files("certbench.resources")))
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen and not (packaged / "icons").is_dir():
        return Path(frozen) / "resources"
    return packaged


def icon_path(name: str) -> Path:
    return resources_dir() / "icons" / f"{name}.svg"


@functools.cache
def icon(name: str) -> QIcon:
    """The icon `resources/icons/<name>.svg`; a missing file is a packaging bug, said loudly."""
    path = icon_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"Icon {path} is missing from the installation.")
    return QIcon(str(path))


def pixmap(name: str, size: int = 16) -> QPixmap:
    """The icon at `size` device-independent pixels, sharp on high-DPI screens."""
    return icon(name).pixmap(size, size)


# Status names used across the dashboard -> icon names.
STATE_ICONS = {"ok": "ok", "fail": "fail", "pending": "pending", "warning": "warning"}


def state_icon(state: str) -> QIcon:
    return icon(STATE_ICONS.get(state, "pending"))
