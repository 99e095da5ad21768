"""The pages of the administrator wizard: choose -> inspect -> group and entry -> run -> result.

Each page asks core (`certbench.core.ca_admin`) through the task runner and turns
`isComplete()` true only when its answer is in; a stale answer (the choice changed while it
was being read) is dropped.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from certbench.core import ca_admin, secrets
from certbench.core.errors import CertbenchError, InputError
from certbench.core.iotcentral.client import check_group_id
from certbench.core.workflows.ca_verification import STEPS
from certbench.gui.errors import describe
from certbench.gui.resources import icon, pixmap
from certbench.gui.tasks import Task
from certbench.gui.widgets.progress import set_progress
from certbench.gui.widgets.status import StatusLabel
from certbench.gui.widgets.steps import StepList


def _hint(exc: BaseException) -> str:
    return secrets.redact(exc.hint) if isinstance(exc, CertbenchError) and exc.hint else ""


def _failure_text(exc: BaseException) -> str:
    hint = _hint(exc)
    return describe(exc) + (f"\n{hint}" if hint else "")


def _value(text: str) -> QLabel:
    label = QLabel(text)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(True)
    return label


# -- 1. choose -------------------------------------------------------------------------------------


class ChoosePage(QWizardPage):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("choosePage")
        self.setTitle(self.tr("Choose the intermediate"))
        self.setSubTitle(self.tr("Which intermediate CA to prove to IoT Central, and where its certificate comes from."))
        layout = QVBoxLayout(self)
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("intermediateChoice")
        self.table.setHorizontalHeaderLabels([self.tr("Intermediate"), self.tr("Source"), self.tr("Group / entry")])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.itemSelectionChanged.connect(self._choice_changed)
        layout.addWidget(self.table, 1)

        layout.addWidget(QLabel(self.tr("Take its certificate:")))
        self.origins = QButtonGroup(self)
        self.origin_buttons: dict[str, QRadioButton] = {}
        texts = {
            "configured": self.tr("As Certbench holds it (the local CA's, or fetched or imported before)"),
            "sectigo": self.tr("Fetch it from Sectigo (read from an issued order on its profile)"),
            "file": self.tr("From a file (PEM, DER or PKCS#7, e.g. downloaded from the Sectigo portal)"),
        }
        for origin in ca_admin.ORIGINS:
            button = QRadioButton(texts[origin])
            button.setObjectName(f"origin_{origin}")
            self.origins.addButton(button)
            self.origin_buttons[origin] = button
            layout.addWidget(button)
            button.toggled.connect(lambda on: on and self._choice_changed())
        self.origin_buttons["configured"].setChecked(True)
        row = QHBoxLayout()
        self.path = QLineEdit()
        self.path.setObjectName("certificateFile")
        self.path.setPlaceholderText(self.tr("Certificate file"))
        self.path.editingFinished.connect(self._choice_changed)
        self.browse = QPushButton(self.tr("Browse…"))
        self.browse.clicked.connect(self._browse)
        row.addWidget(self.path, 1)
        row.addWidget(self.browse)
        layout.addLayout(row)
        self.status = StatusLabel("pending", "")
        self.status.setObjectName("chooseStatus")
        layout.addWidget(self.status)
        self.candidate: ca_admin.Candidate | None = None
        self._wanted: tuple | None = None  # the choice being (or last) read
        self._got: tuple | None = None  # the choice `candidate` belongs to
        self.file_dialog: QFileDialog | None = None

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        settings = self.wizard().settings
        self.table.setRowCount(len(settings.intermediates))
        sources = {"local": self.tr("local CA"), "sectigo": self.tr("Sectigo"), "file": self.tr("file")}
        for row, item in enumerate(settings.intermediates):
            name = QTableWidgetItem(item.display_name or item.name)
            name.setIcon(icon("ca"))
            name.setData(Qt.ItemDataRole.UserRole, item.name)
            name.setToolTip(item.name)
            self.table.setItem(row, 0, name)
            self.table.setItem(row, 1, QTableWidgetItem(sources.get(item.source, item.source)))
            where = f"{item.group} / {item.entry}" if item.group else self.tr("(not set)")
            self.table.setItem(row, 2, QTableWidgetItem(where))
        wanted = self.wizard().preselect
        names = [i.name for i in settings.intermediates]
        self.table.selectRow(names.index(wanted) if wanted in names else 0)

    def select(self, name: str, origin: str = "configured", path: str = "") -> None:
        """Choose programmatically (tests, "verify" from the dashboard)."""
        names = [i.name for i in self.wizard().settings.intermediates]
        self.path.setText(path)
        self.origin_buttons[origin].setChecked(True)
        self.table.selectRow(names.index(name))
        self._choice_changed()

    def intermediate(self):
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        return self.wizard().settings.intermediate(self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole))

    def origin(self) -> str:
        return next(o for o, b in self.origin_buttons.items() if b.isChecked())

    def _browse(self) -> None:
        dialog = QFileDialog(self, self.tr("Intermediate certificate"))
        dialog.setNameFilters([self.tr("Certificates (*.pem *.crt *.cer *.der *.p7b *.p7c)"), self.tr("All files (*)")])
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(lambda path: (self.path.setText(path), self._choice_changed()))
        self.file_dialog = dialog
        dialog.open()

    def _choice_changed(self) -> None:
        item = self.intermediate()
        if item is None:
            return
        allowed = ca_admin.origins_for(item)
        for origin, button in self.origin_buttons.items():
            button.setEnabled(origin in allowed)
        if self.origin() not in allowed:
            self.origin_buttons["configured"].setChecked(True)  # re-enters through toggled
            return
        origin = self.origin()
        self.path.setEnabled(origin == "file")
        self.browse.setEnabled(origin == "file")
        path = self.path.text().strip() if origin == "file" else ""
        wanted = (item.name, origin, path)
        if wanted == self._wanted:
            return
        self._wanted = wanted
        self.candidate = None
        self.completeChanged.emit()
        problem = ca_admin.cannot_verify(item)
        if problem:
            self.status.set_state("fail", problem)
            return
        if origin == "file" and not path:
            self.status.set_state("pending", self.tr("Choose the certificate file."))
            return
        settings = self.wizard().settings
        reading = {
            "configured": self.tr("Reading the certificate of '{name}'…"),
            "sectigo": self.tr("Fetching the certificate of '{name}' from Sectigo…"),
            "file": self.tr("Reading {path}…"),
        }[origin].format(name=item.name, path=path)
        self.status.set_state("pending", reading)
        loaders = {
            "configured": lambda _ctl: ca_admin.load_configured(settings, item.name),
            "sectigo": lambda _ctl: ca_admin.fetch_from_sectigo(settings, item.name),
            "file": lambda _ctl: ca_admin.load_from_file(settings, item.name, path),
        }
        Task(self, loaders[origin], name=f"read-intermediate-{origin}", keeps_open=False) \
            .on_success(lambda found, w=wanted: self._loaded(w, found)) \
            .on_failure(lambda exc, w=wanted: self._failed(w, exc)) \
            .start()

    def _loaded(self, wanted: tuple, found: ca_admin.Candidate) -> None:
        if wanted != self._wanted:
            return  # the administrator chose something else meanwhile
        self.candidate, self._got = found, wanted
        summary = found.summary
        self.status.set_state("ok", self.tr("Read '{cn}' (thumbprint {thumb}).").format(
            cn=summary.common_name or summary.subject, thumb=summary.sha1_thumbprint))
        self.completeChanged.emit()

    def _failed(self, wanted: tuple, exc: BaseException) -> None:
        if wanted != self._wanted:
            return
        self._wanted = None  # choosing the same again retries
        self.status.set_state("fail", _failure_text(exc))

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.candidate is not None and self._got == self._wanted


# -- 2. inspect ------------------------------------------------------------------------------------


class InspectPage(QWizardPage):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("inspectPage")
        self.setTitle(self.tr("Inspect the certificate"))
        self.setSubTitle(self.tr("Check that this is the intermediate you mean before it is sent to IoT Central."))
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.fields: dict[str, QLabel] = {}
        for key, label in (
            ("subject", self.tr("Subject:")), ("issuer", self.tr("Issued by:")), ("validity", self.tr("Valid:")),
            ("thumbprint", self.tr("SHA-1 thumbprint:")), ("sha256", self.tr("SHA-256 fingerprint:")),
            ("ca", self.tr("CA flags:")), ("key", self.tr("Key:")), ("origin", self.tr("Taken from:")),
        ):
            self.fields[key] = _value("")
            self.fields[key].setObjectName(f"inspect_{key}")
            form.addRow(label, self.fields[key])
        layout.addLayout(form)
        layout.addWidget(QLabel(self.tr("Warnings:")))
        self.warnings = QListWidget()
        self.warnings.setObjectName("inspectWarnings")
        self.warnings.setWordWrap(True)
        self.warnings.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        layout.addWidget(self.warnings, 1)
        self.verdict = StatusLabel("pending", "")
        self.verdict.setObjectName("inspectVerdict")
        layout.addWidget(self.verdict)

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        found: ca_admin.Candidate = self.wizard().candidate
        s = found.summary
        self.fields["subject"].setText(s.subject)
        self.fields["issuer"].setText(s.issuer)
        state = (self.tr("EXPIRED") if s.expired else self.tr("not valid yet") if s.not_yet_valid
                 else self.tr("{days} days left").format(days=s.days_left))
        self.fields["validity"].setText(self.tr("{start} to {end} UTC ({state})").format(
            start=f"{s.not_before:%Y-%m-%d %H:%M}", end=f"{s.not_after:%Y-%m-%d %H:%M}", state=state))
        self.fields["thumbprint"].setText(s.sha1_thumbprint)
        self.fields["sha256"].setText(s.sha256_fingerprint)
        if s.is_ca:
            flags = self.tr("CA: yes") + (self.tr(", path length {n}").format(n=s.path_length)
                                          if s.path_length is not None else "")
        else:
            flags = self.tr("CA: NO") if s.has_basic_constraints else self.tr("CA: NO (no basicConstraints)")
        usage = ", ".join(s.key_usage) or self.tr("none")
        self.fields["ca"].setText(flags + "; " + self.tr("key usage: {usage}").format(usage=usage))
        self.fields["key"].setText(f"{s.key_description}, {s.signature_algorithm}")
        origins = {"configured": self.tr("held by Certbench"), "sectigo": self.tr("fetched from Sectigo"),
                   "file": found.path or ""}
        self.fields["origin"].setText(self.tr("{origin}, for intermediate '{name}'").format(
            origin=origins[found.origin], name=found.name))
        self.warnings.clear()
        for text in found.warnings:
            self.warnings.addItem(QListWidgetItem(icon("warning"), text))
        if not found.warnings:
            self.warnings.addItem(QListWidgetItem(icon("ok"), self.tr("No warnings.")))
        if found.blocker:
            self.verdict.set_state("fail", self.tr("Cannot be verified: {reason}").format(reason=found.blocker))
        else:
            self.verdict.set_state("ok", self.tr("A valid CA certificate: it can be verified."))
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        found = self.wizard().candidate
        return found is not None and found.blocker is None


# -- 3. group and entry ----------------------------------------------------------------------------


class GroupPage(QWizardPage):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("groupPage")
        self.setTitle(self.tr("Choose the enrollment group and entry"))
        self.setSubTitle(self.tr("The IoT Central enrollment group devices issued from this intermediate register "
                                 "through, and which of its two certificate entries holds it."))
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, self.tr("Run proof of possession"))
        layout = QVBoxLayout(self)
        form = QFormLayout()
        row = QHBoxLayout()
        self.group = QComboBox()
        self.group.setObjectName("groupId")
        self.group.setEditable(True)
        self.group.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.group.currentTextChanged.connect(self._update)
        self.reload = QPushButton(self.tr("Reload"))
        self.reload.setObjectName("reloadGroups")
        self.reload.clicked.connect(self.load_groups)
        row.addWidget(self.group, 1)
        row.addWidget(self.reload)
        form.addRow(self.tr("Enrollment group:"), row)
        self.entry = QComboBox()
        self.entry.setObjectName("entry")
        for entry in ca_admin.ENTRIES:
            self.entry.addItem(self.tr(entry), entry)
        self.entry.currentIndexChanged.connect(self._update)
        form.addRow(self.tr("Certificate entry:"), self.entry)
        layout.addLayout(form)
        self.holds = QLabel()
        self.holds.setObjectName("groupHolds")
        self.holds.setWordWrap(True)
        layout.addWidget(self.holds)
        self.state = StatusLabel("pending", "")
        self.state.setObjectName("entryState")
        layout.addWidget(self.state)
        self.replace = QCheckBox(self.tr("Replace the certificate in this entry (devices issued from it stop registering)"))
        self.replace.setObjectName("replaceCheckbox")
        self.replace.hide()
        self.replace.toggled.connect(lambda _on: self.completeChanged.emit())
        layout.addWidget(self.replace)
        self.recorded = QLabel()
        self.recorded.setWordWrap(True)
        layout.addWidget(self.recorded)
        layout.addStretch(1)
        self.groups: list | None = None
        self.entry_state: ca_admin.EntryState | None = None
        self._loading = False
        self._error: BaseException | None = None
        self._state_key: tuple | None = None

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        wizard = self.wizard()
        item = wizard.settings.intermediate(wizard.candidate.name)
        self.group.setEditText(item.group or "medicorp-devices")
        self.entry.setCurrentIndex(max(0, self.entry.findData(item.entry or "primary")))
        self.recorded.setText(self.tr("Recorded in the audit trail as {operator} on {workstation}.").format(
            operator=wizard.operator, workstation=wizard.settings.bench.workstation))
        self.load_groups()

    def load_groups(self) -> None:
        self._loading = True
        self.reload.setEnabled(False)
        self.state.set_state("pending", self.tr("Reading the enrollment groups from IoT Central…"))
        self.completeChanged.emit()
        settings = self.wizard().settings
        Task(self, lambda _ctl: ca_admin.list_groups(settings), name="list-groups", keeps_open=False) \
            .on_success(self._groups_loaded) \
            .on_failure(self._groups_failed) \
            .on_finished(self._loaded_or_failed) \
            .start()

    def _loaded_or_failed(self) -> None:
        self._loading = False
        self.reload.setEnabled(True)
        self._update()

    def _groups_loaded(self, groups: list) -> None:
        self.groups = groups
        text = self.group.currentText()
        self.group.blockSignals(True)
        self.group.clear()
        for group in groups:
            self.group.addItem(icon("ok" if group.enabled else "warning"), group.id)
            self.group.setItemData(self.group.count() - 1,
                                   f"{group.display_name} ({group.attestation_type})", Qt.ItemDataRole.ToolTipRole)
        self.group.setEditText(text)
        self.group.blockSignals(False)

    def _groups_failed(self, exc: BaseException) -> None:
        self.groups = None
        self._error = exc

    def chosen(self) -> tuple[str, str]:
        return self.group.currentText().strip(), self.entry.currentData()

    def _update(self, *_args) -> None:
        group_id, entry = self.chosen()
        self.entry_state = None
        self.holds.setText("")
        if self._loading:
            return
        if self.groups is None:
            error = self._error
            self.state.set_state("fail", self.tr("Could not read the groups: {reason}").format(
                reason=_failure_text(error) if error else "?") + " " + self.tr("Press Reload to try again."))
            self.completeChanged.emit()
            return
        try:
            check_group_id(group_id)
        except InputError as exc:
            self.state.set_state("fail", _failure_text(exc))
            self.completeChanged.emit()
            return
        group = next((g for g in self.groups if g.id == group_id), None)
        if group is not None:
            lines = []
            for name in ca_admin.ENTRIES:
                held = group.certificates.get(name)
                lines.append(f"{name}: " + (self.tr("empty") if held is None or not held.sha1_thumbprint else
                                            f"{held.sha1_thumbprint} ({self.tr('verified') if held.verified else self.tr('not verified')})"))
            self.holds.setText(self.tr("Group '{id}' ({name}) holds now — {entries}").format(
                id=group.id, name=group.display_name, entries="; ".join(lines)))
        found = self.wizard().candidate
        self.entry_state = ca_admin.entry_state(self.groups, group_id, entry, found.thumbprint)
        look = {"new-group": "ok", "free": "ok", "same": "ok", "same-verified": "ok", "other": "warning",
                "not-x509": "fail", "elsewhere": "fail"}[self.entry_state.kind]
        self.state.set_state(look, self.entry_state.message)
        key = (group_id, entry, self.entry_state.held_thumbprint)
        if key != self._state_key:
            self._state_key = key
            self.replace.setChecked(False)  # consent is for one entry and what it holds
        self.replace.setVisible(self.entry_state.needs_replace)
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        state = self.entry_state
        if self._loading or state is None or state.blocked:
            return False
        return not state.needs_replace or self.replace.isChecked()


# -- 4. run ----------------------------------------------------------------------------------------



class RunPage(QWizardPage):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("runPage")
        self.setTitle(self.tr("Proof of possession"))
        self.setSubTitle(self.tr("Certbench uploads the certificate, gets a code from IoT Central and answers it with a "
                                 "certificate signed by the intermediate."))
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, self.tr("Show the result"))
        layout = QVBoxLayout(self)
        labels = {
            "check-intermediate": self.tr("Check the intermediate"),
            "group": self.tr("Find or create the enrollment group"),
            "entry": self.tr("Check the certificate entry"),
            "upload": self.tr("Upload the certificate"),
            "code": self.tr("Get a verification code"),
            "issue": self.tr("Issue the verification certificate"),
            "check-local": self.tr("Check it before sending"),
            "verify": self.tr("Send it to IoT Central"),
            "confirm": self.tr("Confirm the entry is verified"),
        }
        self.steps = StepList([(step, labels[step]) for step in STEPS])
        layout.addWidget(self.steps, 1)
        self.bar = QProgressBar()
        self.bar.setRange(0, len(STEPS))
        layout.addWidget(self.bar)
        self.message = StatusLabel("pending", "")
        self.message.setObjectName("runMessage")
        layout.addWidget(self.message)
        self.retry = QPushButton(self.tr("Try again"))
        self.retry.setObjectName("retryButton")
        self.retry.setToolTip(self.tr("Runs again from what IoT Central holds now; finished steps are not redone."))
        self.retry.clicked.connect(self.start)
        self.retry.hide()
        layout.addWidget(self.retry, 0, Qt.AlignmentFlag.AlignLeft)
        self.task: Task | None = None
        self.outcome = None
        self.error: BaseException | None = None

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        self.start()

    def start(self) -> None:
        wizard = self.wizard()
        found, settings, operator = wizard.candidate, wizard.settings, wizard.operator
        group, entry = wizard.group_page.chosen()
        replace = wizard.group_page.replace.isChecked()
        self.outcome, self.error = None, None
        self.steps.reset()
        self.bar.setValue(0)
        self.retry.hide()
        self.message.set_state("pending", self.tr("Working…"))
        self.task = (
            Task(self, lambda ctl: ca_admin.run_verification(settings, found, group, entry, replace=replace,
                                                             operator=operator, progress=ctl.progress),
                 name="verify-intermediate")
            .on_progress(self._progress)
            .on_success(self._succeeded)
            .on_failure(self._failed)
            .on_finished(self.completeChanged.emit)
            .start()
        )
        self.completeChanged.emit()

    def _progress(self, event) -> None:
        self.steps.apply(event)
        set_progress(self.bar, self.steps.finished_count())
        if event.status in ("started", "done"):
            self.message.set_state("pending", event.message)

    def _succeeded(self, outcome) -> None:
        self.outcome = outcome
        self.bar.setValue(len(STEPS))
        self.message.set_state("ok", self.tr("'{name}' is verified in {group}/{entry}.").format(
            name=outcome.intermediate, group=outcome.group, entry=outcome.entry))
        self.wizard().verified.emit(outcome)

    def _failed(self, exc: BaseException) -> None:
        self.error = exc
        self.message.set_state("fail", _failure_text(exc))
        self.retry.show()

    @property
    def running(self) -> bool:
        return self.task is not None and self.task.running

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return not self.running and (self.outcome is not None or self.error is not None)


# -- 5. result -------------------------------------------------------------------------------------


class ResultPage(QWizardPage):
    """Laid out like the technician wizard's result: headline, then one labelled row per fact."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("resultPage")
        self.setFinalPage(True)
        layout = QVBoxLayout(self)
        header = QHBoxLayout()
        self.picture = QLabel()
        header.addWidget(self.picture)
        self.headline = QLabel()
        self.headline.setObjectName("resultHeadline")
        self.headline.setStyleSheet("font-size: 16pt; font-weight: bold;")
        header.addWidget(self.headline, 1)
        layout.addLayout(header)
        self.form = QFormLayout()
        self.fields: dict[str, QLabel] = {}
        for key, label in (("intermediate", self.tr("Intermediate:")), ("where", self.tr("Group and entry:")),
                           ("thumbprint", self.tr("SHA-1 thumbprint:")), ("valid", self.tr("Valid until:")),
                           ("note", self.tr("Note:")), ("reason", self.tr("What went wrong:")),
                           ("action", self.tr("What to do:")), ("next", self.tr("Next:")),
                           ("recorded", self.tr("Audit trail:"))):
            value = _value("")
            value.setObjectName(f"result_{key}")
            self.fields[key] = value
            self.form.addRow(label, value)
        layout.addLayout(self.form)
        layout.addStretch(1)

    def _show_row(self, key: str, text: str) -> None:
        self.fields[key].setText(text)
        self.form.setRowVisible(self.fields[key], bool(text))

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        wizard = self.wizard()
        run = wizard.run_page
        self.setTitle(self.tr("Result"))
        out, exc = run.outcome, run.error
        candidate = wizard.candidate
        self._show_row("intermediate", out.intermediate if out is not None else (candidate.name if candidate else ""))
        if out is not None:
            self.picture.setPixmap(pixmap("ok", 48))
            self.headline.setText(self.tr("Verified"))
            self._show_row("where", f"{out.group} / {out.entry}")
            self._show_row("thumbprint", out.thumbprint)
            self._show_row("valid", f"{out.not_after:%Y-%m-%d}")
            notes = []
            if out.already_verified:
                notes.append(self.tr("It was already verified there; nothing was changed."))
            if out.replaced_thumbprint:
                notes.append(self.tr("It replaced certificate {thumb}.").format(thumb=out.replaced_thumbprint))
            self._show_row("note", " ".join(notes))
            self._show_row("reason", "")
            self._show_row("action", "")
            self._show_row("next", self.tr("Units issued from this intermediate can now register through "
                                           "'{group}'.").format(group=out.group))
        else:
            self.picture.setPixmap(pixmap("fail", 48))
            self.headline.setText(self.tr("Not verified"))
            for key in ("where", "thumbprint", "valid", "note", "next"):
                self._show_row(key, "")
            self._show_row("reason", describe(exc) if exc else self.tr("Stopped before it finished."))
            self._show_row("action", (_hint(exc) if exc else "") or self.tr(
                "Check the log file, then run the wizard again; it resumes where it stopped."))
        self._show_row("recorded", self.tr("recorded as {operator} on {workstation}.").format(
            operator=wizard.operator, workstation=wizard.settings.bench.workstation))
