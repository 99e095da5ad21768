"""Entry point of the desktop application (the `certbench-gui` script and `certbench gui`)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    from certbench.core import __version__

    args = sys.argv[1:] if argv is None else argv
    app = QApplication.instance() or QApplication([sys.argv[0], *args])
    window = QMainWindow()
    window.setWindowTitle(f"Certbench {__version__}" + (" - DEMO" if "--demo" in args else ""))
    window.setCentralWidget(QLabel("Certbench"))
    window.resize(1100, 720)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
