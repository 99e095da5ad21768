"""Technician wizard, page 1: which instrument. The ports are asked HELLO on the task runner
(demo mode: the simulated instruments); a port another wizard is provisioning on is shown
and cannot be chosen."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWizardPage,
)

from certbench.core.dashboard import InstrumentRow
from certbench.gui.errors import describe
from certbench.gui.resources import icon
from certbench.gui.tasks import Task
from certbench.gui.widgets.status import StatusLabel
from certbench.gui.wizards import tech_bench


class InstrumentPage(QWizardPage):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("instrumentPage")
        self.setTitle(self.tr("Connect the instrument"))
        self.setSubTitle(self.tr("Plug the instrument into a USB port, switch it on in service mode and choose it "
                                 "below. Scanning a unit's label also chooses the instrument that reports it."))
        layout = QVBoxLayout(self)
        self.list = QListWidget()
        self.list.setObjectName("instrumentList")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.itemSelectionChanged.connect(self.completeChanged.emit)
        self.list.itemActivated.connect(lambda _item: self.isComplete() and self.wizard().next())
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.status = StatusLabel("pending", "")
        self.status.setObjectName("instrumentStatus")
        row.addWidget(self.status, 1)
        self.refresh_button = QPushButton(icon("refresh"), self.tr("&Look again"))
        self.refresh_button.setObjectName("refreshInstruments")
        self.refresh_button.setAutoDefault(False)
        self.refresh_button.clicked.connect(self.refresh)
        row.addWidget(self.refresh_button)
        layout.addLayout(row)
        self.demo_note = QLabel(self.tr("Demo mode: these are simulated instruments. Their labels are under "
                                        "<b>Demo labels…</b> on the next page."))
        self.demo_note.setWordWrap(True)
        self.demo_note.hide()
        layout.addWidget(self.demo_note)
        self.rows: list[InstrumentRow] = []
        self.searching = False
        self._searched = False

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        self.demo_note.setVisible(self.wizard().demo is not None)
        if not self._searched:
            self.refresh()
        self.list.setFocus()

    def cleanupPage(self) -> None:  # noqa: N802 - Qt's name
        pass  # the list and the choice stay for the next unit

    def refresh(self) -> None:
        if self.searching:
            return
        wizard = self.wizard()
        self.searching = self._searched = True
        self.refresh_button.setEnabled(False)
        self.status.set_state("pending", self.tr("Looking for instruments…"))
        demo = wizard.demo

        def find(_ctl):
            env = wizard.bench_env()
            return tech_bench.discover(env.open_transport, tech_bench.list_candidate_ports(demo, env.settings),
                                      holder=wizard)

        Task(self, find, name="technician-discover", keeps_open=False) \
            .on_success(self.set_rows) \
            .on_failure(lambda exc: self.status.set_state("fail", self.tr("Could not look for instruments: {reason}")
                                                          .format(reason=describe(exc)))) \
            .on_finished(self._searched_done) \
            .start()
        self.completeChanged.emit()

    def _searched_done(self) -> None:
        self.searching = False
        self.refresh_button.setEnabled(True)
        self.completeChanged.emit()

    def set_rows(self, rows: list[InstrumentRow]) -> None:
        wanted = self.wizard().port or (self.selected().port if self.selected() else None)
        self.rows = rows
        self.list.clear()
        for row in rows:
            busy = row.state == tech_bench.BUSY
            text = (self.tr("{port} — in use by another wizard").format(port=row.port) if busy else
                    self.tr("{port} — {model} serial {serial} ({state})").format(
                        port=row.port, model=row.model, serial=row.serial, state=row.state))
            item = QListWidgetItem(icon("pending" if busy else "instrument"), text)
            item.setData(Qt.ItemDataRole.UserRole, row.port)
            if busy:
                item.setFlags(item.flags() & ~(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled))
            self.list.addItem(item)
        free = [r for r in rows if r.state != tech_bench.BUSY]
        if not rows:
            self.status.set_state("warning", self.tr("No instrument answered. Plug one in, switch it on, then "
                                                     "press Look again."))
        else:
            self.status.set_state("ok", self.tr("{n} instrument(s) found.").format(n=len(free)))
        ports = [r.port for r in free]
        if wanted in ports:
            self.select_port(wanted)
        elif len(free) >= 1:
            self.select_port(free[0].port)

    def select_port(self, port: str) -> bool:
        for index in range(self.list.count()):
            item = self.list.item(index)
            if item.data(Qt.ItemDataRole.UserRole) == port and item.flags() & Qt.ItemFlag.ItemIsEnabled:
                self.list.setCurrentItem(item)
                item.setSelected(True)
                return True
        return False

    def selected(self) -> InstrumentRow | None:
        items = self.list.selectedItems()
        if not items:
            return None
        port = items[0].data(Qt.ItemDataRole.UserRole)
        return next((r for r in self.rows if r.port == port), None)

    def row_for_serial(self, serial: str) -> InstrumentRow | None:
        """The one free instrument that reported this serial, if exactly one did."""
        matches = [r for r in self.rows if r.state != tech_bench.BUSY and r.serial.casefold() == serial.casefold()]
        return matches[0] if len(matches) == 1 else None

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        row = self.selected()
        return row is not None and row.state != tech_bench.BUSY

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name
        row = self.selected()
        if row is None:
            return False
        if not self.wizard().use_port(row.port):
            self.status.set_state("fail", self.tr("{port} is in use by another wizard: choose another instrument.")
                                  .format(port=row.port))
            return False
        return True
