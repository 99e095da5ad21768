"""Demo mode's environment: a throw-away Certbench home and an in-memory keyring, so a demo
never touches the bench's real settings, data or keyring. Shared by `certbench demo` and
`certbench gui --demo`."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

# What the administrator unlock accepts in demo mode (said on the unlock dialog).
DEMO_ADMIN_PASSWORD = "demo"


class DemoHome:
    """A throw-away CERTBENCH_HOME and an in-memory keyring for the length of a demo."""

    def __init__(self, keep: Path | None = None) -> None:
        self.keep = keep
        self.path: Path | None = None
        self._previous: str | None = None

    def __enter__(self) -> Path:
        from certbench.core import secrets

        self.path = self.keep or Path(tempfile.mkdtemp(prefix="certbench-demo-"))
        self._previous = os.environ.get("CERTBENCH_HOME")
        os.environ["CERTBENCH_HOME"] = str(self.path)
        secrets.use_memory_keyring()
        return self.path

    def __exit__(self, *exc) -> None:
        if self._previous is None:
            os.environ.pop("CERTBENCH_HOME", None)
        else:
            os.environ["CERTBENCH_HOME"] = self._previous
        if self.keep is None and self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)


__all__ = ["DEMO_ADMIN_PASSWORD", "DemoHome"]
