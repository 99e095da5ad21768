"""Entry point of the frozen executables (PyInstaller bundles this file twice).

`certbench.exe` (console) is the command line; `certbench-gui.exe` (windowed, the Start-menu
shortcut) opens the window. Which one runs is decided by the executable's own name, so
both share one analysis and one set of libraries.

The windowed executable also answers `--version` and `--self-test` without opening a
window, so IT and CI can smoke-test it: it has no console of its own, so it attaches to the
console it was started from (or writes to redirected handles, which CI uses).

`CERTBENCH_EXIT_WHEN_SHOWN=1` makes the window close itself as soon as the main window
has painted once and print `certbench-shown-ms <ms>` (time since the interpreter started):
bench/packaging measures cold start with it.
"""

from __future__ import annotations

import os
import sys
import time

_STARTED = time.perf_counter()

CLI_ARGS = {"--version", "--self-test", "self-test", "-h", "--help"}


def _is_gui_executable() -> bool:
    name = os.path.basename(sys.executable if getattr(sys, "frozen", False) else sys.argv[0]).lower()
    return name.startswith("certbench-gui")


def _attach_parent_console() -> None:
    """A windowed process has no stdout unless one was handed to it; borrow the parent's console."""
    if sys.stdout is not None and sys.stderr is not None:
        return
    if sys.platform == "win32":
        import ctypes

        ATTACH_PARENT_PROCESS = -1
        if ctypes.windll.kernel32.AttachConsole(ATTACH_PARENT_PROCESS):
            if sys.stdout is None:
                sys.stdout = open("CONOUT$", "w", encoding="utf-8", errors="replace")  # noqa: SIM115
            if sys.stderr is None:
                sys.stderr = open("CONOUT$", "w", encoding="utf-8", errors="replace")  # noqa: SIM115
            return
    # Nowhere to write (double-clicked with an argument): swallow output rather than crash.
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115


def _exit_when_shown() -> None:
    """Install the cold-start probe: quit after the first paint of a main window."""
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])

    class _FirstPaint(QObject):
        done = False

        def eventFilter(self, watched, event):  # noqa: N802 - Qt's name
            if not self.done and event.type() == QEvent.Type.Paint and isinstance(watched, QMainWindow):
                self.done = True
                elapsed_ms = (time.perf_counter() - _STARTED) * 1000
                print(f"certbench-shown-ms {elapsed_ms:.1f}", flush=True)
                QTimer.singleShot(0, app.quit)
            return False

    probe = _FirstPaint(app)
    app.installEventFilter(probe)
    app._certbench_first_paint_probe = probe  # keep it alive as long as the app


def main() -> int:
    import multiprocessing

    multiprocessing.freeze_support()
    args = sys.argv[1:]
    from certbench.core.selftest import QT_PROBE_ARG

    if args == [QT_PROBE_ARG]:
        from certbench.core.selftest import qt_probe_main

        return qt_probe_main()
    if _is_gui_executable() and not (args and args[0] in CLI_ARGS):
        if os.environ.get("CERTBENCH_EXIT_WHEN_SHOWN") == "1":
            _exit_when_shown()
        from certbench.gui.app import main as gui_main

        return gui_main(args)
    _attach_parent_console()
    from certbench.core.cli import main as cli_main

    cli_main(args)  # leaves through sys.exit with the command's exit code
    return 0


if __name__ == "__main__":
    sys.exit(main())
