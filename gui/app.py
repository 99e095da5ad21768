"""Entry point of the desktop application (the `certbench-gui` script and `certbench gui`).

    certbench gui [--demo]

Start-up order matters: the demo environment first (so logs, settings and the keyring are
the throw-away ones; in a demo the IoT Central and Sectigo emulators start here, in this
process, and write the settings that point at them), then logging, then the exception hook, then the settings. Settings that
fail to load do not stop the application: it opens on the built-in defaults, says which key
is wrong and offers Settings to correct it.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence

from certbench.core import __version__

log = logging.getLogger("certbench.gui")
DEMO_VERIFIED_AT_START = ("medicorp-ica-1", "medicorp-ica-2")
_IMPORTED_AT = __import__("time").time()


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="certbench-gui", description="Certbench bench provisioning station.")
    parser.add_argument("--demo", action="store_true",
                        help="Run on the built-in emulators and simulated instruments, in a throw-away folder.")
    # For smoke tests and the start-up benchmark: quit this many ms after the dashboard's
    # first refresh, printing "shown <seconds since process start>" when the window is up.
    parser.add_argument("--exit-after", type=int, default=None, metavar="MS", help=argparse.SUPPRESS)
    # Qt's own options (-platform, -style, ...) pass through to QApplication.
    args, qt_args = parser.parse_known_args(list(argv))
    args.qt_args = qt_args
    return args


def create_application(argv: Sequence[str]):
    """The QApplication, made once, with names set so QSettings and the platform agree."""
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from certbench.core import paths

    existing = QApplication.instance()
    if existing is not None:
        return existing
    # Fractional scale factors (125 %, 150 % on bench laptops) rendered as such, not rounded:
    # text and SVG icons stay sharp. Must be set before the application exists.
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    QCoreApplication.setOrganizationName(paths.APP_AUTHOR)
    QCoreApplication.setOrganizationDomain("medicorp.example")
    QCoreApplication.setApplicationName(paths.APP_NAME)
    QCoreApplication.setApplicationVersion(__version__)
    app = QApplication([sys.argv[0] if sys.argv else "certbench", *argv])
    app.setDesktopFileName("certbench")
    return app


def build_main_window(demo: bool, demo_services=None):
    """Logging, the exception hook, the settings and the main window (not shown yet)."""
    from certbench.core.config import default_settings, load_settings
    from certbench.core.errors import ConfigError
    from certbench.core.logs import setup_logging
    from certbench.gui.errors import install_excepthook
    from certbench.gui.main_window import MainWindow
    from certbench.gui.resources import icon

    from PySide6.QtWidgets import QApplication

    log_path = setup_logging()
    install_excepthook(log_path)
    QApplication.instance().setWindowIcon(icon("app"))
    log.info("Certbench %s starting%s", __version__, " in demo mode" if demo else "")
    problem = None
    try:
        settings = load_settings()
    except ConfigError as exc:
        log.warning("Settings not loaded: %s", exc)
        problem = exc
        settings = default_settings()
    return MainWindow(settings, demo=demo, settings_problem=problem, demo_services=demo_services)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(args_list)
    qt_args = args.qt_args

    environment = contextlib.ExitStack()
    services = None
    if args.demo:
        from certbench.core.demo import DemoHome, DemoServices

        home = environment.enter_context(DemoHome())
        # The emulators stop before the throw-away home is removed (ExitStack unwinds in reverse).
        # Two intermediates start verified (their products provision at once); the other two
        # are left for the administrator wizard.
        services = environment.enter_context(DemoServices(home / "services", verify=DEMO_VERIFIED_AT_START))
    with environment:
        app = create_application(qt_args)
        window = build_main_window(args.demo, services)
        window.show()
        window.start()
        if args.exit_after is not None:
            _exit_after_first_refresh(app, window, args.exit_after)
        _close_on_termination_signals(app, window)
        code = app.exec()
        from certbench.gui.tasks import task_runner

        # The window refused to close while work ran, so this returns at once; it only
        # bounds the wait for a thread that ignored cancellation.
        task_runner().wait_for_threads(10_000)
        return code


def _close_on_termination_signals(app, window) -> None:
    """Ctrl+C in the console or a service manager's SIGTERM closes the window the normal
    way (demo folders removed, work in progress asked about) instead of killing the process."""
    import signal

    from PySide6.QtCore import QTimer

    def request_close(*_args) -> None:
        QTimer.singleShot(0, window.close)

    for name in ("SIGINT", "SIGTERM"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), request_close)
    # Python runs signal handlers only between bytecodes; a light timer gives it the chance
    # while Qt's event loop is waiting.
    ticker = QTimer(app)
    ticker.timeout.connect(lambda: None)
    ticker.start(250)


def _exit_after_first_refresh(app, window, msecs: int) -> None:
    import time

    from PySide6.QtCore import QTimer

    shown = time.time() - _process_start()
    print(f"shown {shown:.3f}", flush=True)

    def refreshed() -> None:
        print(f"refreshed {time.time() - _process_start():.3f}", flush=True)
        QTimer.singleShot(msecs, window.close)

    window.refreshed.connect(refreshed)


def _process_start() -> float:
    """When this process started (seconds since the epoch), from the OS where it says."""
    import os

    try:
        with open(f"/proc/{os.getpid()}/stat", encoding="ascii") as handle:
            ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat", encoding="ascii") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, StopIteration, IndexError):
        return _IMPORTED_AT


if __name__ == "__main__":
    sys.exit(main())
