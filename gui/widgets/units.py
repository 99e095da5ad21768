"""Dashboard panel: today's units, done / failed / in progress."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from certbench.core.dashboard import UnitCounts
from certbench.gui.resources import pixmap


class _Count(QWidget):
    def __init__(self, icon_name: str, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QGridLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        picture = QLabel()
        picture.setPixmap(pixmap(icon_name, 24))
        layout.addWidget(picture, 0, 0, 2, 1, Qt.AlignmentFlag.AlignTop)
        self.number = QLabel("–")
        self.number.setStyleSheet("font-size: 20pt; font-weight: bold;")
        layout.addWidget(self.number, 0, 1)
        layout.addWidget(QLabel(caption), 1, 1)
        layout.setColumnStretch(1, 1)

    def set(self, value: int | None) -> None:
        self.number.setText("–" if value is None else str(value))


class UnitsPanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Today's units"), parent)
        self.setObjectName("unitsPanel")
        outer = QVBoxLayout(self)
        row = QGridLayout()
        self.done = _Count("ok", self.tr("done"))
        self.failed = _Count("fail", self.tr("failed"))
        self.in_progress = _Count("pending", self.tr("in progress"))
        for column, widget in enumerate((self.done, self.failed, self.in_progress)):
            row.addWidget(widget, 0, column)
        outer.addLayout(row)
        self.message = QLabel()
        self.message.setObjectName("unitsMessage")
        self.message.setWordWrap(True)
        self.message.hide()
        outer.addWidget(self.message)
        self.counts: UnitCounts | None = None

    def set_counts(self, counts: UnitCounts) -> None:
        self.counts = counts
        self.done.set(counts.done)
        self.failed.set(counts.failed)
        self.in_progress.set(counts.in_progress)
        self.message.hide()

    def set_error(self, message: str) -> None:
        for widget in (self.done, self.failed, self.in_progress):
            widget.set(None)
        self.message.setText(self.tr("The registry could not be read: {message}").format(message=message))
        self.message.show()
