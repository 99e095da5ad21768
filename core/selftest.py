"""`certbench --self-test`: the installation checks itself, one item at a time.

IT runs it after deploying the MSI; CI runs it inside the frozen bundle. Every check is
independent (one failing does not hide the others) and reports what it found in words a
technician can act on. Nothing here touches a real secret, a real database or an instrument:
the keyring probe uses its own entry name, the database check uses a throw-away SQLite file.

Qt is checked in a child process: a missing or broken platform plugin makes Qt abort the
whole process (qFatal), which must not take the report down with it, and core/ stays free
of Qt at import time.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import platform
import secrets as _random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from certbench.core import __version__, paths
from certbench.core.errors import CertbenchError

# The frozen executable runs the Qt probe when started with this as its only argument
# (packaging/entry.py); a source install runs `python -m certbench.core.selftest` with it.
QT_PROBE_ARG = "--internal-qt-probe"
QT_PROBE_TIMEOUT_S = 60
# Marks the probe's answer in the child's stdout, so Qt's own chatter cannot be mistaken for it.
_PROBE_MARK = "certbench-qt-probe:"

KEYRING_PROBE_SERVICE = "certbench-self-test"
KEYRING_PROBE_NAME = "probe"

# Modules the application imports only when a feature is used (so a broken bundle would
# otherwise fail late, at a bench, in front of a technician).
LAZY_MODULES = (
    "sqlite3",
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.postgresql.psycopg",
    "psycopg",
    "alembic.command",
    "serial",
    "serial.tools.list_ports",
    "httpx",
    "azure.iot.device",
    "paho.mqtt.client",
    "biip",
    "tomli_w",
)


@dataclass
class CheckResult:
    name: str
    title: str
    ok: bool
    detail: str
    hint: str | None = None
    seconds: float = 0.0


@dataclass
class SelfTestReport:
    version: str
    frozen: bool
    executable: str
    python: str
    platform: str
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


class CheckFailed(Exception):
    def __init__(self, detail: str, hint: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.hint = hint


# --- Qt ---------------------------------------------------------------------------------------


def _headless() -> bool:
    if sys.platform in ("win32", "darwin"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def qt_probe_command() -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable, QT_PROBE_ARG]
    return [sys.executable, "-m", "certbench.core.selftest", QT_PROBE_ARG]


def qt_probe_main() -> int:
    """Runs in the child: start Qt the way the window does, draw text, answer in one line."""
    if _headless():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # Imported here only: this function runs in its own process.
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import QLibraryInfo, QRect, Qt, qVersion
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    window = QMainWindow()
    window.resize(320, 200)
    window.show()
    app.processEvents()
    image = QImage(120, 40, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.white)
    painter = QPainter(image)
    painter.drawText(QRect(0, 0, 120, 40), Qt.AlignmentFlag.AlignCenter, "Certbench")
    painter.end()
    inked = any(image.pixelColor(x, y).lightness() < 128 for x in range(120) for y in range(40))
    answer = {
        "platform": app.platformName(),
        "qt": qVersion(),
        "pyside": pyside_version,
        "plugins": QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath),
        "window_shown": window.isVisible(),
        "text_drawn": inked,
    }
    window.close()
    print(_PROBE_MARK + json.dumps(answer), flush=True)
    return 0


def check_qt() -> str:
    env = dict(os.environ)
    if _headless():
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        proc = subprocess.run(
            qt_probe_command(), capture_output=True, text=True, timeout=QT_PROBE_TIMEOUT_S, env=env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise CheckFailed(
            f"Qt did not start within {QT_PROBE_TIMEOUT_S} s.",
            "Sign in to an interactive desktop session and retry; reinstall Certbench if it persists.",
        ) from None
    except OSError as exc:
        raise CheckFailed(f"The Qt check could not start a process: {exc}.") from None
    answer = next((line[len(_PROBE_MARK):] for line in proc.stdout.splitlines() if line.startswith(_PROBE_MARK)), None)
    if proc.returncode != 0 or answer is None:
        lines = [line for line in (proc.stderr or "").splitlines() if line.strip()]
        why = " ".join(lines[-3:]) or f"exit code {proc.returncode}"
        raise CheckFailed(
            f"The Qt platform plugin did not load: {why}",
            "The installation is damaged or incomplete (platforms/ plugin folder); reinstall Certbench.",
        )
    info = json.loads(answer)
    if not info["window_shown"] or not info["text_drawn"]:
        raise CheckFailed(
            f"Qt started on '{info['platform']}' but could not show a window or draw text.",
            "Reinstall Certbench; check that the graphics driver works.",
        )
    return f"Qt {info['qt']} (PySide6 {info['pyside']}) on platform '{info['platform']}'; window shown, text drawn"


# --- crypto -----------------------------------------------------------------------------------


def check_crypto() -> str:
    import cryptography
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.backends.openssl.backend import backend
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from certbench.core.x509.keys import (
        EC_P256,
        encrypt_private_key,
        generate_key,
        load_encrypted_private_key,
        same_public_key,
    )

    key = generate_key(EC_P256)
    message = b"certbench self-test " + _random.token_bytes(16)
    signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
    key.public_key().verify(signature, message, ec.ECDSA(hashes.SHA256()))
    try:
        key.public_key().verify(signature, message + b"!", ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        pass
    else:
        raise CheckFailed("The crypto backend accepted a signature over altered data.", "Reinstall Certbench.")
    passphrase = _random.token_bytes(24)
    again = load_encrypted_private_key(encrypt_private_key(key, passphrase), passphrase)
    if not same_public_key(key, again):
        raise CheckFailed("An encrypted key did not decrypt to the same key.", "Reinstall Certbench.")
    return (
        f"cryptography {cryptography.__version__}, {backend.openssl_version_text()}: "
        "EC P-256 key generated, signature verified, tampering detected, key encryption round-trip"
    )


# --- resources --------------------------------------------------------------------------------


def check_resources() -> str:
    from certbench.core.trust import AZURE_ROOTS, azure_root_certificates
    from certbench.core.x509.inspect import summarize

    try:
        roots = azure_root_certificates()
    except (OSError, FileNotFoundError) as exc:
        raise CheckFailed(f"A shipped root certificate is missing: {exc}.", "Reinstall Certbench.") from None
    if len(roots) != len(AZURE_ROOTS):
        raise CheckFailed(f"Expected {len(AZURE_ROOTS)} Azure root certificates, found {len(roots)}.", "Reinstall Certbench.")
    names = ", ".join(summarize(root).common_name for root in roots)
    return f"{len(roots)} Azure root certificates present and pinned: {names}"


def check_components() -> str:
    missing = []
    for name in LAZY_MODULES:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - any failure to import is what this reports
            missing.append(f"{name} ({type(exc).__name__}: {exc})")
    if missing:
        raise CheckFailed("Components failed to load: " + "; ".join(missing), "Reinstall Certbench.")
    return f"{len(LAZY_MODULES)} components load (database drivers, serial, MQTT, HTTP)"


def check_migrations() -> str:
    from sqlalchemy.engine import URL

    from certbench.core.registry import db

    with tempfile.TemporaryDirectory(prefix="certbench-selftest-") as folder:
        url = URL.create("sqlite", database=str(Path(folder) / "self-test.db"))
        engine = db.create_registry_engine(url)
        try:
            db.upgrade(engine, url)
            current, heads = db.current_revisions(engine), db.head_revisions()
        finally:
            engine.dispose()
    if not heads or current != heads:
        raise CheckFailed(
            f"The registry schema did not reach the newest revision (at {sorted(current)}, newest {sorted(heads)}).",
            "The database migrations are missing from the installation; reinstall Certbench.",
        )
    return f"a new registry database migrates to schema {', '.join(sorted(heads))}"


# --- keyring ----------------------------------------------------------------------------------


def check_keyring() -> str:
    from certbench.core import secrets

    hint = (
        "Certbench keeps secrets only in the OS keyring: on Windows, Credential Manager "
        "(sign in normally, not as a service); on Linux, an unlocked Secret Service."
    )
    backends = _effective_backends()
    name = f"{type(backends[0]).__module__}.{type(backends[0]).__name__}" if backends else secrets.backend_name()
    if not secrets.keyring_usable() or not backends:
        raise CheckFailed(f"No usable OS keyring (backend {name}).", hint)
    if isinstance(backends[0], secrets.MemoryKeyring):
        # keyring picks any KeyringBackend subclass it has seen, this process-only one included,
        # when the OS offers nothing better: secrets would vanish when Certbench exits.
        raise CheckFailed(f"No OS keyring: only a store that lives as long as the process ({name}).", hint)
    # A write-read-delete under a service name of its own: proves the store accepts entries
    # (a locked or read-only keyring would not) without touching Certbench's real secrets.
    import keyring
    import keyring.errors

    value = _random.token_urlsafe(18)
    secrets.register_secret_value(value)
    try:
        keyring.set_password(KEYRING_PROBE_SERVICE, KEYRING_PROBE_NAME, value)
        if keyring.get_password(KEYRING_PROBE_SERVICE, KEYRING_PROBE_NAME) != value:
            raise CheckFailed(f"The keyring ({name}) gave back a different value than was stored.")
        keyring.delete_password(KEYRING_PROBE_SERVICE, KEYRING_PROBE_NAME)
        if keyring.get_password(KEYRING_PROBE_SERVICE, KEYRING_PROBE_NAME) is not None:
            raise CheckFailed(f"The keyring ({name}) did not delete an entry.")
    except keyring.errors.KeyringError as exc:
        raise CheckFailed(
            f"The keyring ({name}) refused to store, read or delete a test entry ({type(exc).__name__}).",
            "Unlock the keyring or sign in again. Windows Credential Manager holds at most 2560 bytes per secret.",
        ) from None
    finally:
        with contextlib.suppress(Exception):  # already gone after a good run
            keyring.delete_password(KEYRING_PROBE_SERVICE, KEYRING_PROBE_NAME)
    return f"{name}: store, read and delete of a probe entry worked"


def _effective_backends() -> list:
    """The backends a secret is written to, first one first (the chainer's list, unwrapped)."""
    import keyring
    from keyring.backends.chainer import ChainerBackend

    backend = keyring.get_keyring()
    if isinstance(backend, ChainerBackend):
        return list(backend.backends)
    return [backend]


# --- folders and settings ---------------------------------------------------------------------


def _writable(folder: Path) -> None:
    probe = folder / f".certbench-selftest-{os.getpid()}-{_random.token_hex(4)}"
    data = _random.token_bytes(64)
    try:
        with open(probe, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if probe.read_bytes() != data:
            raise CheckFailed(f"{folder} returned different bytes than were written.")
    finally:
        probe.unlink(missing_ok=True)


def check_folders() -> str:
    places = {}
    for label, getter in (("data", paths.data_dir), ("logs", paths.log_dir), ("settings", paths.config_dir)):
        try:
            folder = getter()
            _writable(folder)
        except OSError as exc:
            raise CheckFailed(
                f"The {label} folder is not writable: {exc}.",
                "Give the signed-in user write access to that folder (it is under the user's profile), "
                "or set CERTBENCH_HOME to a writable folder.",
            ) from None
        places[label] = str(folder)
    return "writable: " + "; ".join(f"{label} {folder}" for label, folder in places.items())


def check_settings() -> str:
    from certbench.core.config import load_settings

    try:
        settings = load_settings()
    except CertbenchError as exc:
        raise CheckFailed(exc.message, exc.hint) from None
    site = paths.site_config_dir()
    sources = ", ".join(settings.sources) or "none (embedded defaults)"
    return f"valid; files read: {sources}; machine-wide folder: {site}"


Check = tuple[str, str, Callable[[], str]]

CHECKS: list[Check] = [
    ("qt", "Qt platform plugin loads", check_qt),
    ("crypto", "Crypto backend works", check_crypto),
    ("resources", "Shipped resources present", check_resources),
    ("components", "Bundled components load", check_components),
    ("migrations", "Registry migrations present", check_migrations),
    ("keyring", "OS keyring usable", check_keyring),
    ("folders", "Data, log and settings folders writable", check_folders),
    ("settings", "Settings valid", check_settings),
]


def run_checks(only: list[str] | None = None, skip: list[str] | None = None) -> SelfTestReport:
    report = SelfTestReport(
        version=__version__,
        frozen=bool(getattr(sys, "frozen", False)),
        executable=sys.executable,
        python=platform.python_version(),
        platform=platform.platform(),
    )
    for name, title, check in CHECKS:
        if (only and name not in only) or (skip and name in skip):
            continue
        started = time.perf_counter()
        try:
            result = CheckResult(name, title, True, check())
        except CheckFailed as exc:
            result = CheckResult(name, title, False, exc.detail, exc.hint)
        except Exception as exc:  # noqa: BLE001 - a crashing check is a failed check, reported like the others
            from certbench.core.secrets import redact

            result = CheckResult(
                name, title, False, f"{type(exc).__name__}: {redact(str(exc))}", "Reinstall Certbench; if it persists, send this report to support."
            )
        result.seconds = round(time.perf_counter() - started, 3)
        report.checks.append(result)
    return report


if __name__ == "__main__":
    if sys.argv[1:] == [QT_PROBE_ARG]:
        sys.exit(qt_probe_main())
    sys.exit(f"usage: python -m certbench.core.selftest {QT_PROBE_ARG}")
