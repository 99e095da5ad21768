"""Demo mode's label sheet: the GS1 label of each simulated instrument (and of one unit that
is not on the bench), each with a "Scan" button that types it into the technician wizard
the way a keyboard-wedge scanner does: a burst of keys a few ms apart, then Enter."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QDialog, QGridLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from certbench.gui.resources import icon
from certbench.gui.wizards.tech_bench import DemoLabel
from certbench.gui.wizards.tech_scanning import type_burst


class DemoLabelsDialog(QDialog):
    """Non-modal beside the wizard (`parent`), which receives the simulated scans."""

    scanned = Signal(str)  # the label text, once its burst was typed

    def __init__(self, labels: Sequence[DemoLabel], parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("demoLabelsDialog")
        self.setWindowTitle(self.tr("Demo labels"))
        self.target = parent
        layout = QVBoxLayout(self)
        intro = QLabel(self.tr("The UDI labels of the simulated instruments. <b>Scan</b> sends a label to the "
                               "wizard as a keyboard-wedge barcode scanner would."))
        intro.setWordWrap(True)
        layout.addWidget(intro)
        grid = QGridLayout()
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        for col, text in enumerate((self.tr("Unit"), self.tr("On port"), self.tr("Label (GS1 DataMatrix)"), "")):
            grid.addWidget(QLabel(f"<b>{text}</b>"), 0, col)
        self.buttons: dict[str, QPushButton] = {}
        for row, label in enumerate(labels, start=1):
            grid.addWidget(QLabel(f"{label.model} {label.serial}"), row, 0)
            grid.addWidget(QLabel(label.port or self.tr("not on the bench")), row, 1)
            text = QLabel(label.shown)
            text.setFont(mono)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(text, row, 2)
            button = QPushButton(icon("scan"), self.tr("Scan"))
            button.setObjectName(f"scan_{label.serial}")
            button.setAutoDefault(False)
            button.clicked.connect(lambda _c=False, t=label.text: self.scan(t))
            grid.addWidget(button, row, 3)
            self.buttons[label.serial] = button
        grid.setColumnStretch(2, 1)
        layout.addLayout(grid)
        close = QPushButton(self.tr("Close"))
        close.setAutoDefault(False)
        close.clicked.connect(self.close)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)

    def scan(self, text: str) -> None:
        self.target.activateWindow()
        type_burst(self.target, text, on_done=lambda: self.scanned.emit(text))
