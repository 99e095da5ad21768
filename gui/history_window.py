"""History: find units in the registry, see a unit's certificates and full audit trail,
re-provision or decommission it, export CSV, and verify the audit trail.

Every look-up runs on the task runner (`certbench.core.history`); a newer search supersedes
an older one still running (its answer is dropped). Re-provision and decommission call the
unit workflows (`core.workflows.decommission`) after a confirmation with a reason.
"""

from __future__ import annotations

import datetime as dt
import json

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from certbench.core import history
from certbench.core.config import Settings
from certbench.core.errors import CertbenchError
from certbench.core.registry import UnitState
from certbench.core.registry.states import IN_PROGRESS
from certbench.gui.errors import describe
from certbench.gui.resources import icon
from certbench.gui.tasks import Task
from certbench.gui.ui_state import restore_geometry, save_geometry
from certbench.gui.widgets.status import StatusLabel

PAGE_SIZE = 50
UNIT_COLUMNS = ("cn", "serial", "model", "state", "operator", "updated", "generation")
EVENT_COLUMNS = ("seq", "when", "event", "actor", "workstation", "outcome", "details")
CERT_COLUMNS = ("generation", "status", "intermediate", "order", "sha1", "valid_until")


def _when(value: dt.datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _state_icon(state: UnitState) -> str:
    if state == UnitState.DONE:
        return "ok"
    if state in (UnitState.FAILED, UnitState.REVOKED, UnitState.ROLLED_BACK):
        return "fail" if state == UnitState.FAILED else "warning"
    return "pending"


def _table(columns: list[str], name: str) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(columns)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    return table


class ReasonDialog(QDialog):
    """Asks why (required: it goes to the audit trail) before a re-provision or decommission."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None, *, device_actions: bool = False) -> None:
        super().__init__(parent)
        self.setObjectName("reasonDialog")
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        intro = QLabel(text)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.reason = QLineEdit()
        self.reason.setObjectName("reason")
        self.reason.setPlaceholderText(self.tr("e.g. board swapped under RMA 1234"))
        form.addRow(self.tr("Reason:"), self.reason)
        self.device_action: QComboBox | None = None
        if device_actions:
            self.device_action = QComboBox()
            self.device_action.setObjectName("deviceAction")
            for value, label in (("delete", self.tr("delete the device")), ("disable", self.tr("disable the device")),
                                 ("keep", self.tr("leave the device as it is"))):
                self.device_action.addItem(label, value)
            form.addRow(self.tr("In IoT Central:"), self.device_action)
        layout.addLayout(form)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
        self.reason.textChanged.connect(
            lambda text: self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(text.strip())))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)


class HistoryWindow(QWidget):
    searched = Signal()  # a page of results is shown (tests wait for it)
    trail_loaded = Signal()
    exported = Signal(int, str)  # count, path
    audit_checked = Signal(object)  # ChainReport
    unit_changed = Signal(object)  # after re-provision / decommission: the workflow's answer

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("historyWindow")
        self.setWindowTitle(self.tr("Certbench — History"))
        self.setWindowIcon(icon("history"))
        self.settings = settings
        self.page = 0
        self.result: history.UnitPage | None = None
        self.trail: history.UnitTrail | None = None
        self._search_serial = 0
        self._trail_serial = 0
        self.dialogs: dict[str, QWidget] = {}

        layout = QVBoxLayout(self)
        layout.addWidget(self._filters())
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self._results())
        splitter.addWidget(self._details())
        # The unit's audit trail is what people read here: it gets the larger share.
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout.addWidget(splitter, 1)
        self._bottom(layout)
        self.resize(1100, 780)
        restore_geometry(self, "historyWindow")
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.close)

    # -- layout ----------------------------------------------------------------------------------
    def _filters(self) -> QGroupBox:
        box = QGroupBox(self.tr("Find units"))
        grid = QGridLayout(box)
        self.filters: dict[str, QLineEdit] = {}
        labels = {"serial": self.tr("Serial:"), "cn": self.tr("Device id (CN):"), "model": self.tr("Model:"),
                  "operator": self.tr("Operator:")}
        for index, (key, label) in enumerate(labels.items()):
            edit = QLineEdit()
            edit.setObjectName(f"filter_{key}")
            edit.setClearButtonEnabled(True)
            edit.returnPressed.connect(self.search)
            self.filters[key] = edit
            grid.addWidget(QLabel(label), index // 2, (index % 2) * 2)
            grid.addWidget(edit, index // 2, (index % 2) * 2 + 1)
        self.state_filter = QComboBox()
        self.state_filter.setObjectName("filter_state")
        self.state_filter.addItem(self.tr("any"), "")
        self.state_filter.addItem(self.tr("in progress (any step)"), history.IN_PROGRESS_FILTER)
        self.state_filter.addItem(self.tr("done (passed)"), UnitState.DONE.value)
        self.state_filter.addItem(self.tr("failed"), UnitState.FAILED.value)
        for state in (*IN_PROGRESS, UnitState.ROLLED_BACK, UnitState.REVOKED):
            self.state_filter.addItem(state.value.replace("_", " "), state.value)
        grid.addWidget(QLabel(self.tr("Result / state:")), 2, 0)
        grid.addWidget(self.state_filter, 2, 1)
        dates = QHBoxLayout()
        today = QDate.currentDate()
        self.since_check = QCheckBox(self.tr("from"))
        self.since_check.setObjectName("filter_since_on")
        self.since = QDateEdit(today.addDays(-7))
        self.since.setObjectName("filter_since")
        self.until_check = QCheckBox(self.tr("to"))
        self.until_check.setObjectName("filter_until_on")
        self.until = QDateEdit(today)
        self.until.setObjectName("filter_until")
        for edit, check in ((self.since, self.since_check), (self.until, self.until_check)):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)
            check.toggled.connect(edit.setEnabled)
            dates.addWidget(check)
            dates.addWidget(edit)
        dates.addStretch(1)
        grid.addWidget(QLabel(self.tr("Worked on:")), 2, 2)
        grid.addLayout(dates, 2, 3)
        buttons = QHBoxLayout()
        self.search_button = QPushButton(icon("refresh"), self.tr("Search"))
        self.search_button.setObjectName("searchButton")
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.search)
        clear = QPushButton(self.tr("Clear"))
        clear.clicked.connect(self.clear_filters)
        buttons.addStretch(1)
        buttons.addWidget(clear)
        buttons.addWidget(self.search_button)
        grid.addLayout(buttons, 3, 0, 1, 4)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        return box

    def _results(self) -> QWidget:
        widget = QWidget()
        layout = QVBoxLayout(widget)
        layout.setContentsMargins(0, 0, 0, 0)
        self.table = _table([self.tr("Device id (CN)"), self.tr("Serial"), self.tr("Model"), self.tr("State"),
                             self.tr("Operator (last)"), self.tr("Last change"), self.tr("Gen.")], "unitsTable")
        self.table.itemSelectionChanged.connect(self._selection_changed)
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.prev_button = QPushButton(self.tr("◀ Previous"))
        self.prev_button.setObjectName("previousPage")
        self.prev_button.clicked.connect(lambda: self.show_page(self.page - 1))
        self.next_button = QPushButton(self.tr("Next ▶"))
        self.next_button.setObjectName("nextPage")
        self.next_button.clicked.connect(lambda: self.show_page(self.page + 1))
        self.page_label = QLabel()
        self.page_label.setObjectName("pageLabel")
        self.search_status = StatusLabel("pending", "")
        self.search_status.setObjectName("searchStatus")
        row.addWidget(self.search_status, 1)
        row.addWidget(self.prev_button)
        row.addWidget(self.page_label)
        row.addWidget(self.next_button)
        layout.addLayout(row)
        self._set_paging()
        return widget

    def _details(self) -> QWidget:
        box = QGroupBox(self.tr("Unit"))
        layout = QVBoxLayout(box)
        self.unit_summary = QLabel(self.tr("Select a unit to see its certificates and audit trail."))
        self.unit_summary.setObjectName("unitSummary")
        self.unit_summary.setWordWrap(True)
        self.unit_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.unit_summary)
        self.certs = _table([self.tr("Gen."), self.tr("Status"), self.tr("Intermediate"), self.tr("Order"),
                             self.tr("SHA-1 thumbprint"), self.tr("Valid until")], "certificatesTable")
        self.certs.setMaximumHeight(110)
        layout.addWidget(self.certs)
        self.events = _table([self.tr("#"), self.tr("When"), self.tr("Event"), self.tr("Operator"),
                              self.tr("Workstation"), self.tr("Outcome"), self.tr("Details")], "eventsTable")
        layout.addWidget(self.events, 1)
        actions = QHBoxLayout()
        self.reprovision_button = QPushButton(self.tr("Re-provision…"))
        self.reprovision_button.setObjectName("reprovisionButton")
        self.reprovision_button.setToolTip(self.tr("New identity under the same device id (board swap, renewal): the "
                                                   "old certificate is revoked; connect the instrument and provision it "
                                                   "again afterwards."))
        self.reprovision_button.clicked.connect(self.ask_reprovision)
        self.decommission_button = QPushButton(self.tr("Decommission…"))
        self.decommission_button.setObjectName("decommissionButton")
        self.decommission_button.setToolTip(self.tr("Withdraw the unit for good (return, scrap): certificate revoked, "
                                                    "IoT Central device removed."))
        self.decommission_button.clicked.connect(self.ask_decommission)
        self.export_trail_button = QPushButton(self.tr("Export this trail (CSV)…"))
        self.export_trail_button.setObjectName("exportTrailButton")
        self.export_trail_button.clicked.connect(lambda: self._ask_file("trail"))
        for button in (self.reprovision_button, self.decommission_button, self.export_trail_button):
            button.setEnabled(False)
            actions.addWidget(button)
        actions.addStretch(1)
        self.action_status = StatusLabel("pending", "")
        self.action_status.setObjectName("actionStatus")
        self.action_status.hide()
        actions.addWidget(self.action_status, 2)
        layout.addLayout(actions)
        return box

    def _bottom(self, layout: QVBoxLayout) -> None:
        row = QHBoxLayout()
        self.export_units_button = QPushButton(self.tr("Export found units (CSV)…"))
        self.export_units_button.setObjectName("exportUnitsButton")
        self.export_units_button.clicked.connect(lambda: self._ask_file("units"))
        self.export_audit_button = QPushButton(self.tr("Export the audit trail (CSV)…"))
        self.export_audit_button.setObjectName("exportAuditButton")
        self.export_audit_button.clicked.connect(lambda: self._ask_file("audit"))
        self.verify_button = QPushButton(icon("ok"), self.tr("Verify audit trail"))
        self.verify_button.setObjectName("verifyAuditButton")
        self.verify_button.setToolTip(self.tr("Recompute every link of the hash chain and report the first broken one."))
        self.verify_button.clicked.connect(self.verify_audit)
        for button in (self.export_units_button, self.export_audit_button, self.verify_button):
            row.addWidget(button)
        row.addStretch(1)
        layout.addLayout(row)
        # Below the buttons, the whole width: the audit result carries a hash to copy down.
        self.export_status = StatusLabel("pending", "")
        self.export_status.setObjectName("exportStatus")
        self.export_status.hide()
        self.audit_status = StatusLabel("pending", "")
        self.audit_status.setObjectName("auditStatus")
        self.audit_status.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                                        | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.audit_status.hide()
        layout.addWidget(self.export_status)
        layout.addWidget(self.audit_status)

    # -- searching -------------------------------------------------------------------------------
    def query(self) -> history.UnitQuery:
        def day(check: QCheckBox, edit: QDateEdit) -> dt.date | None:
            return edit.date().toPython() if check.isChecked() else None

        return history.UnitQuery(
            serial=self.filters["serial"].text(), cn=self.filters["cn"].text(), model=self.filters["model"].text(),
            operator=self.filters["operator"].text(), state=self.state_filter.currentData() or "",
            since=day(self.since_check, self.since), until=day(self.until_check, self.until),
        )

    def clear_filters(self) -> None:
        for edit in self.filters.values():
            edit.clear()
        self.state_filter.setCurrentIndex(0)
        self.since_check.setChecked(False)
        self.until_check.setChecked(False)
        self.search()

    def search(self) -> None:
        self.show_page(0)

    def show_page(self, page: int) -> None:
        query, url = self.query(), self.settings.registry.url or None
        self._search_serial += 1
        serial = self._search_serial
        self.search_status.set_state("pending", self.tr("Searching…"))
        Task(self, lambda _ctl: history.search_units(url, query, page=page, page_size=PAGE_SIZE),
             name="history-search", keeps_open=False) \
            .on_success(lambda result: serial == self._search_serial and self._show_result(result)) \
            .on_failure(lambda exc: serial == self._search_serial and self._search_failed(exc)) \
            .start()

    def _search_failed(self, exc: BaseException) -> None:
        hint = exc.hint if isinstance(exc, CertbenchError) and exc.hint else ""
        self.search_status.set_state("fail", describe(exc) + (f" {hint}" if hint else ""))
        self.searched.emit()

    def _show_result(self, result: history.UnitPage) -> None:
        selected = self.trail.unit.id if self.trail else None
        self.result, self.page = result, result.page
        self.table.blockSignals(True)
        self.table.setRowCount(len(result.units))
        for row, unit in enumerate(result.units):
            values = (unit.cn or self.tr("(none yet)"), unit.serial, unit.model, unit.state.value.replace("_", " "),
                      unit.last_operator, _when(unit.updated_at), str(unit.generation))
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                if column == 0:
                    item.setData(Qt.ItemDataRole.UserRole, unit.id)
                if column == 3:
                    item.setIcon(icon(_state_icon(unit.state)))
                    if unit.last_error:
                        item.setToolTip(unit.last_error)
                self.table.setItem(row, column, item)
        self.table.blockSignals(False)
        ids = [u.id for u in result.units]
        if selected in ids:
            self.table.selectRow(ids.index(selected))
        self.search_status.set_state("ok" if result.total else "pending", self.tr("{n} unit(s) found.").format(
            n=result.total))
        self._set_paging()
        self.searched.emit()

    def _set_paging(self) -> None:
        result = self.result
        pages = result.pages if result else 1
        self.page_label.setText(self.tr("page {page} of {pages}").format(page=self.page + 1, pages=pages))
        self.prev_button.setEnabled(self.page > 0)
        self.next_button.setEnabled(result is not None and self.page + 1 < pages)

    def found_serials(self) -> list[str]:
        return [self.table.item(r, 1).text() for r in range(self.table.rowCount())]

    # -- one unit ----------------------------------------------------------------------------------
    def select_unit(self, unit_id: int) -> None:
        ids = [self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in range(self.table.rowCount())]
        self.table.selectRow(ids.index(unit_id))

    def _selection_changed(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        self.load_trail(self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole))

    def load_trail(self, unit_id: int) -> None:
        url = self.settings.registry.url or None
        self._trail_serial += 1
        serial = self._trail_serial
        Task(self, lambda _ctl: history.unit_trail(url, unit_id), name="history-trail", keeps_open=False) \
            .on_success(lambda trail: serial == self._trail_serial and self._show_trail(trail)) \
            .on_failure(lambda exc: serial == self._trail_serial and self.unit_summary.setText(describe(exc))) \
            .start()

    def _show_trail(self, trail: history.UnitTrail) -> None:
        self.trail = trail
        unit = trail.unit
        lines = [
            self.tr("<b>{cn}</b> — {model}, serial {serial}, generation {gen}").format(
                cn=_html(unit.cn or self.tr("(no device id yet)")), model=_html(unit.model), serial=_html(unit.serial),
                gen=unit.generation),
            self.tr("State: {state}. Reserved by {op} on {ws}; last change by {lop} on {lws} at {when}.").format(
                state=unit.state.value.replace("_", " "), op=unit.operator, ws=unit.workstation,
                lop=unit.last_operator, lws=unit.last_workstation, when=_when(unit.updated_at)),
            self.tr("Next: {message}").format(message=trail.plan.message),
        ]
        if unit.last_error:
            lines.insert(2, self.tr("Last error: {error}").format(error=unit.last_error))
        self.unit_summary.setText("<br>".join(_html(line) if i else line for i, line in enumerate(lines)))
        self.certs.setRowCount(len(trail.certificates))
        for row, cert in enumerate(trail.certificates):
            values = (str(cert.generation), cert.status, cert.intermediate, cert.order_id, (cert.sha1 or "").upper(),
                      _when(cert.not_after))
            for column, value in enumerate(values):
                self.certs.setItem(row, column, QTableWidgetItem(value))
        self.events.setRowCount(len(trail.events))
        for row, event in enumerate(trail.events):
            details = event.details if event.details not in ("{}", "") else ""
            if event.error:
                details = event.error + (f" {details}" if details else "")
            values = (str(event.seq), _when(event.occurred_at), event.event, event.actor, event.workstation,
                      event.outcome, details)
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                if column == 5:
                    item.setIcon(icon("ok" if event.outcome == "ok" else "fail"))
                if column == 6:
                    item.setToolTip(_pretty(event.details))
                self.events.setItem(row, column, item)
        self.events.scrollToBottom()
        self.reprovision_button.setEnabled(unit.state in (UnitState.DONE, UnitState.ROLLED_BACK, UnitState.REVOKED))
        self.decommission_button.setEnabled(unit.state != UnitState.REVOKED)
        self.export_trail_button.setEnabled(True)
        self.trail_loaded.emit()

    # -- re-provision / decommission -------------------------------------------------------------
    def ask_reprovision(self) -> None:
        unit = self.trail.unit
        dialog = ReasonDialog(self.tr("Re-provision {cn}").format(cn=unit.cn), self.tr(
            "The unit gets a new identity under the same device id: its certificate is revoked, the IoT Central "
            "device is reset, and the unit waits to be provisioned again (connect it and scan it)."), self)
        dialog.accepted.connect(lambda: self.run_unit_action("reprovision", unit.cn, dialog.reason.text().strip()))
        self.dialogs["reason"] = dialog
        dialog.open()

    def ask_decommission(self) -> None:
        unit = self.trail.unit
        dialog = ReasonDialog(self.tr("Decommission {cn}").format(cn=unit.cn or unit.serial), self.tr(
            "The unit is withdrawn for good: unfinished work is rolled back, its certificate revoked, and its IoT "
            "Central device removed. This cannot be undone."), self, device_actions=True)
        dialog.accepted.connect(lambda: self.run_unit_action(
            "decommission", unit.cn, dialog.reason.text().strip(), device_action=dialog.device_action.currentData()))
        self.dialogs["reason"] = dialog
        dialog.open()

    def run_unit_action(self, action: str, cn: str, reason: str, *, device_action: str = "delete") -> None:
        from certbench.core.bench import BenchEnv
        from certbench.core.workflows.decommission import decommission_unit, reprovision_unit

        settings = self.settings

        def work(ctl):
            env = BenchEnv.from_settings(settings)
            try:
                if action == "reprovision":
                    return reprovision_unit(env, cn, reason, progress=ctl.progress)
                return decommission_unit(env, cn, reason, device_action=device_action, progress=ctl.progress)
            finally:
                env.close()

        self.reprovision_button.setEnabled(False)
        self.decommission_button.setEnabled(False)
        self.action_status.show()
        self.action_status.set_state("pending", self.tr("Working…"))
        Task(self, work, name=f"unit-{action}") \
            .on_progress(lambda event: self.action_status.set_state("pending", event.message)) \
            .on_success(lambda result: self._unit_action_done(action, cn, result)) \
            .on_failure(lambda exc: self.action_status.set_state("fail", describe(exc) + (
                f" {exc.hint}" if isinstance(exc, CertbenchError) and exc.hint else ""))) \
            .on_finished(lambda: self.trail and self.load_trail(self.trail.unit.id)) \
            .start()

    def _unit_action_done(self, action: str, cn: str, result) -> None:
        text = (self.tr("{cn} is ready to be provisioned again.") if action == "reprovision"
                else self.tr("{cn} is decommissioned.")).format(cn=cn)
        self.action_status.set_state("ok", text)
        self.unit_changed.emit(result)
        self.show_page(self.page)

    # -- exports and the audit check ---------------------------------------------------------------
    def _ask_file(self, what: str) -> None:
        names = {"units": "units.csv", "audit": "audit-trail.csv",
                 "trail": f"audit-{(self.trail.unit.cn or self.trail.unit.serial) if self.trail else 'unit'}.csv"}
        dialog = QFileDialog(self, self.tr("Export CSV"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter(self.tr("CSV files (*.csv)"))
        dialog.setDefaultSuffix("csv")
        dialog.selectFile(names[what])
        dialog.fileSelected.connect(lambda path: self.export(what, path))
        self.dialogs["export"] = dialog
        dialog.open()

    def export(self, what: str, path: str) -> None:
        url, query = self.settings.registry.url or None, self.query()
        unit_id = self.trail.unit.id if self.trail else None
        jobs = {
            "units": lambda _ctl: history.export_units_csv(url, query, path),
            "audit": lambda _ctl: history.export_audit_csv(url, path),
            "trail": lambda _ctl: history.export_audit_csv(url, path, unit_id=unit_id),
        }
        self.export_status.show()
        self.export_status.set_state("pending", self.tr("Exporting to {path}…").format(path=path))
        Task(self, jobs[what], name=f"export-{what}") \
            .on_success(lambda count: self._exported(count, path)) \
            .on_failure(lambda exc: self.export_status.set_state("fail", describe(exc))) \
            .start()

    def _exported(self, count: int, path: str) -> None:
        self.export_status.set_state("ok", self.tr("{n} row(s) written to {path}.").format(n=count, path=path))
        self.exported.emit(count, path)

    def verify_audit(self) -> None:
        url = self.settings.registry.url or None
        self.verify_button.setEnabled(False)
        self.audit_status.show()
        self.audit_status.set_state("pending", self.tr("Checking every link of the audit trail…"))
        Task(self, lambda _ctl: history.verify_audit(url), name="verify-audit", keeps_open=False) \
            .on_success(self._audit_checked) \
            .on_failure(lambda exc: self.audit_status.set_state("fail", describe(exc))) \
            .on_finished(lambda: self.verify_button.setEnabled(True)) \
            .start()

    def _audit_checked(self, report) -> None:
        self.verify_button.setEnabled(True)  # before anyone hears the answer and checks again
        if report.ok:
            self.audit_status.set_state("ok", self.tr(
                "Audit trail intact: {n} event(s); head #{seq} {hash}. Note this head line outside the database to "
                "anchor later checks.").format(n=report.events, seq=report.head_seq, hash=report.head_hash))
        else:
            broken = report.broken
            row = broken.row
            shown = ", ".join(f"{key}={row[key]}" for key in ("event", "actor", "workstation", "occurred_at", "subject")
                              if row.get(key) is not None)
            self.audit_status.set_state("fail", self.tr(
                "Audit trail BROKEN at row #{seq}: {reason}. Row as stored: {row}. The {n} row(s) before it are "
                "intact.").format(seq=broken.seq, reason=broken.reason, row=shown or json.dumps(row, default=str),
                                  n=report.events))
        self.audit_checked.emit(report)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self.result is None:
            self.search()

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().hideEvent(event)
        if not event.spontaneous():
            save_geometry(self, "historyWindow")


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _pretty(details: str) -> str:
    try:
        return json.dumps(json.loads(details), indent=1, ensure_ascii=False)
    except ValueError:
        return details


__all__ = ["HistoryWindow", "ReasonDialog"]
