"""Facts about the product that the spec, the WiX source and the build script share, all
derived from pyproject.toml so the version is typed in exactly one place."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"

PRODUCT_NAME = "Certbench"
MANUFACTURER = "MediCorp"
DESCRIPTION = "Certbench bench provisioning station"
# Never change: Windows Installer finds earlier versions by it (MajorUpgrade).
UPGRADE_CODE = "CE3A7C27-1825-4873-8F4F-DBBAB8ABE1D9"

CLI_EXE = "certbench"  # console: the command line, `certbench --self-test`
GUI_EXE = "certbench-gui"  # windowed: the Start-menu shortcut
BUNDLE_NAME = "Certbench"  # dist/Certbench/ holds both executables and _internal/


def package_version() -> str:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return data["project"]["version"]


def msi_version(version: str | None = None) -> str:
    """Windows Installer compares major.minor.build only (each 0-255/255/65535): 1.4.2rc1 -> 1.4.2."""
    version = version or package_version()
    match = re.match(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?", version)
    if not match:
        raise ValueError(f"Version {version!r} does not start with a number.")
    major, minor, build = (int(part or 0) for part in match.groups())
    if major > 255 or minor > 255 or build > 65535:
        raise ValueError(f"Version {version!r} exceeds Windows Installer's 255.255.65535.")
    return f"{major}.{minor}.{build}"


def file_version_tuple(version: str | None = None) -> tuple[int, int, int, int]:
    major, minor, build = (int(part) for part in msi_version(version).split("."))
    return (major, minor, build, 0)
