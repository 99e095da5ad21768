"""Dashboard panel: the instruments on this bench's USB-serial ports."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from certbench.core.dashboard import InstrumentRow
from certbench.gui.resources import icon


class InstrumentsPanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Connected instruments"), parent)
        self.setObjectName("instrumentsPanel")
        layout = QVBoxLayout(self)
        self.stack = QStackedWidget()
        layout.addWidget(self.stack)
        self.empty = QLabel()
        self.empty.setObjectName("instrumentsEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: palette(mid); font-size: 11pt; padding: 24px;")
        self.stack.addWidget(self.empty)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("instrumentsTable")
        self.table.setHorizontalHeaderLabels([self.tr("Port"), self.tr("Model"), self.tr("Serial"), self.tr("State")])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.stack.addWidget(self.table)
        self.set_loading()

    def set_loading(self) -> None:
        self.empty.setText(self.tr("Looking for instruments…"))
        self.stack.setCurrentWidget(self.empty)

    def set_unavailable(self) -> None:
        self.empty.setText(self.tr("Instrument discovery is not available in this version yet.\n"
                                   "Instruments will be listed here when they are plugged in."))
        self.stack.setCurrentWidget(self.empty)

    def set_error(self, message: str) -> None:
        self.empty.setText(self.tr("Could not list the instruments: {message}").format(message=message))
        self.stack.setCurrentWidget(self.empty)

    def set_instruments(self, rows: list[InstrumentRow]) -> None:
        if not rows:
            self.empty.setText(self.tr("No instrument connected.\nPlug an instrument into a USB port, then press Refresh."))
            self.stack.setCurrentWidget(self.empty)
            return
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            values = [row.port, row.model, row.serial, row.state]
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                if c == 0:
                    item.setIcon(icon("instrument"))
                self.table.setItem(r, c, item)
        self.stack.setCurrentWidget(self.table)
