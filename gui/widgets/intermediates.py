"""Dashboard panel: the configured intermediate CAs, their expiry and IoT Central state."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from certbench.core.dashboard import IntermediateRow
from certbench.gui.resources import icon

COLUMNS = ("name", "source", "group", "expires", "iotcentral")


class IntermediatesPanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Intermediate CAs"), parent)
        self.setObjectName("intermediatesPanel")
        layout = QVBoxLayout(self)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("intermediatesTable")
        self.table.setHorizontalHeaderLabels(
            [self.tr("Name"), self.tr("Source"), self.tr("Group / entry"), self.tr("Expires"), self.tr("IoT Central")]
        )
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)  # a narrow window elides the name (full name in its tooltip)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        layout.addWidget(self.table)
        self.message = QLabel()
        self.message.setObjectName("intermediatesMessage")
        self.message.setWordWrap(True)
        self.message.hide()
        layout.addWidget(self.message)
        self.rows: list[IntermediateRow] = []

    def set_error(self, message: str) -> None:
        self.message.setText(self.tr("Could not read the intermediates: {message}").format(message=message))
        self.message.show()

    def _expiry_item(self, row: IntermediateRow) -> QTableWidgetItem:
        if row.not_after is None:
            item = QTableWidgetItem(self.tr("unknown"))
            item.setIcon(icon("pending"))
            item.setToolTip(row.note)
            return item
        date = row.not_after.date().isoformat()
        texts = {
            "valid": (date, "ok"),
            "expiring": (self.tr("{date} (soon)").format(date=date), "warning"),
            "expired": (self.tr("{date} (EXPIRED)").format(date=date), "fail"),
        }
        text, state = texts.get(row.expiry, (date, "pending"))
        item = QTableWidgetItem(text)
        item.setIcon(icon(state))
        return item

    def _status_item(self, row: IntermediateRow) -> QTableWidgetItem:
        if row.verified is None:
            item = QTableWidgetItem(self.tr("not checked"))
            item.setIcon(icon("pending"))
            item.setToolTip(self.tr("Not read from IoT Central: its application or API token is not configured "
                                    "(Settings > IoT Central), or it did not answer."))
        elif row.verified:
            item = QTableWidgetItem(self.tr("verified"))
            item.setIcon(icon("ok"))
        else:
            item = QTableWidgetItem(self.tr("not verified"))
            item.setIcon(icon("fail"))
        return item

    def set_rows(self, rows: list[IntermediateRow]) -> None:
        self.rows = list(rows)
        self.message.hide()
        self.table.setRowCount(len(rows))
        sources = {"local": self.tr("local CA"), "sectigo": self.tr("Sectigo"), "file": self.tr("file")}
        for r, row in enumerate(rows):
            name = QTableWidgetItem(row.display_name)
            name.setIcon(icon("ca"))
            name.setToolTip(row.name + (f"\n{row.note}" if row.note else ""))
            self.table.setItem(r, 0, name)
            self.table.setItem(r, 1, QTableWidgetItem(sources.get(row.source, row.source)))
            where = f"{row.group} / {row.entry}" if row.group else self.tr("(none)")
            self.table.setItem(r, 2, QTableWidgetItem(where))
            self.table.setItem(r, 3, self._expiry_item(row))
            self.table.setItem(r, 4, self._status_item(row))

    def set_verification(self, status: dict[str, bool | None]) -> None:
        from dataclasses import replace

        self.set_rows([replace(row, verified=status.get(row.name, row.verified)) for row in self.rows])
