#!/usr/bin/env python3
"""Set up Certbench from a fresh clone and run it. Needs nothing but Python >= 3.11.

    python3 bootstrap.py demo [ARGS]   # create .venv, install, open the application in demo mode
                                       # (on a machine without a screen: the command-line demo)
    python3 bootstrap.py test [ARGS]   # create .venv, install, run every test (ARGS go to pytest)
    python3 bootstrap.py run ARGS      # create .venv, install, run `certbench ARGS`

The virtual environment is reinstalled only when pyproject.toml or setup.py change.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".certbench-install-stamp"


def _python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "setup.py"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_environment() -> Path:
    if sys.version_info < (3, 11):
        sys.exit(f"Certbench needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    python = _python()
    if not python.exists():
        print(f"Creating the virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    wanted = _fingerprint()
    if not STAMP.exists() or STAMP.read_text() != wanted:
        print("Installing Certbench and its dependencies (first run takes a few minutes) ...", flush=True)
        pip = [str(python), "-m", "pip", "--disable-pip-version-check", "install", "-q"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True, cwd=ROOT)
        STAMP.write_text(wanted)
    return python


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "run"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    python = ensure_environment()
    if command == "test":
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        return subprocess.call([str(python), "-m", "pytest", *rest], cwd=ROOT, env=env)
    if command == "demo":
        args = ["gui", "--demo", *rest] if _has_screen() else ["demo", *rest]
        if args[0] == "demo":
            print("No screen here: running the command-line demo instead of the window.", flush=True)
    else:
        args = rest
    return subprocess.call([str(python), "-m", "certbench.core", *args], cwd=ROOT)


def _has_screen() -> bool:
    if os.name == "nt" or sys.platform == "darwin":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
