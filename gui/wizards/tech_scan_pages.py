"""Technician wizard, pages 2 and 3: scan the unit's label, then confirm it is the instrument
on the port (the label and the instrument's own HELLO report side by side; a mismatch
blocks). Leaving the confirm page is the commit point: from there on the unit is reserved
and ordered, and Back is gone."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from certbench.core.errors import CertbenchError
from certbench.core.naming.scan import ScanAssembler, ScanResult
from certbench.core.registry import UnitState
from certbench.core.workflows.unit_steps import same_model, same_serial
from certbench.gui.errors import describe
from certbench.gui.resources import icon, pixmap
from certbench.gui.tasks import Task
from certbench.gui.widgets.status import StatusLabel


def failure_text(exc: BaseException) -> str:
    hint = exc.hint if isinstance(exc, CertbenchError) else None
    return describe(exc) + (f"\n{hint}" if hint else "")


# -- 2. scan -----------------------------------------------------------------------------------------


class ScanPage(QWizardPage):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("scanPage")
        self.setTitle(self.tr("Scan the unit"))
        self.setSubTitle(self.tr("Scan the unit's UDI label (or its serial-number label) with the barcode scanner. "
                                 "The scan is taken wherever the cursor is."))
        layout = QVBoxLayout(self)
        head = QHBoxLayout()
        picture = QLabel()
        picture.setPixmap(pixmap("scan", 48))
        head.addWidget(picture, 0, Qt.AlignmentFlag.AlignTop)
        self.prompt = QLabel()
        self.prompt.setObjectName("scanPrompt")
        font = QFont(self.prompt.font())
        font.setPointSizeF(font.pointSizeF() * 1.4)
        self.prompt.setFont(font)
        self.prompt.setWordWrap(True)
        head.addWidget(self.prompt, 1)
        layout.addLayout(head)
        self.instrument = QLabel()
        self.instrument.setObjectName("scanInstrument")
        self.instrument.setWordWrap(True)
        layout.addWidget(self.instrument)

        form = QFormLayout()
        self.typed = QLineEdit()
        self.typed.setObjectName("typedScan")
        self.typed.setPlaceholderText(self.tr("No scanner? Type the serial number or the label text and press Enter"))
        self.typed.textChanged.connect(lambda _text: self.completeChanged.emit())
        form.addRow(self.tr("&Typed entry:"), self.typed)
        self.model = QComboBox()
        self.model.setObjectName("modelChoice")
        self.model.currentIndexChanged.connect(self._model_changed)
        self.model_label = QLabel(self.tr("&Product:"))
        self.model_label.setBuddy(self.model)
        form.addRow(self.model_label, self.model)
        layout.addLayout(form)

        self.status = StatusLabel("pending", "")
        self.status.setObjectName("scanStatus")
        layout.addWidget(self.status)
        layout.addStretch(1)
        row = QHBoxLayout()
        self.demo_labels = QPushButton(icon("demo"), self.tr("&Demo labels…"))
        self.demo_labels.setObjectName("demoLabelsButton")
        self.demo_labels.setAutoDefault(False)
        self.demo_labels.clicked.connect(lambda: self.wizard().show_demo_labels())
        row.addWidget(self.demo_labels)
        row.addStretch(1)
        layout.addLayout(row)
        self.result: ScanResult | None = None
        self.assembler: ScanAssembler | None = None
        self._typed_taken = ""

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        wizard = self.wizard()
        self.assembler = ScanAssembler(wizard.settings)
        self.result = None
        self._typed_taken = ""
        self.typed.clear()
        self.model.blockSignals(True)
        self.model.clear()
        self.model.addItem(self.tr("(from the label)"), None)
        for product in wizard.settings.products:
            self.model.addItem(f"{product.display_name or product.model} ({product.model})", product.model)
        self.model.blockSignals(False)
        self._show_model(False)
        self.demo_labels.setVisible(wizard.demo is not None)
        self.prompt.setText(self.tr("Scan the unit's label now."))
        self.status.set_state("pending", self.tr("Waiting for a scan."))
        self.show_instrument()
        self.typed.setFocus()

    def cleanupPage(self) -> None:  # noqa: N802 - Qt's name
        self.result = None

    def show_instrument(self) -> None:
        wizard = self.wizard()
        row = wizard.instrument_row()
        if row is not None:
            self.instrument.setText(self.tr("Instrument: {port} ({model} serial {serial})").format(
                port=row.port, model=row.model, serial=row.serial))
        else:
            self.instrument.setText(self.tr("Instrument: {port}").format(port=wizard.port or "?"))

    def _show_model(self, visible: bool) -> None:
        self.model.setVisible(visible)
        self.model_label.setVisible(visible)

    # -- taking a scan -----------------------------------------------------------------------------
    def take(self, text: str, *, from_scanner: bool) -> bool:
        """Interpret one scan; True when the unit is identified (and its product known)."""
        assert self.assembler is not None
        wizard = self.wizard()
        self.result = None
        try:
            result = self.assembler.feed(text)
        except CertbenchError as exc:
            self.status.set_state("fail", failure_text(exc))
            self.prompt.setText(self.tr("That scan cannot be used. Scan the label again."))
            self.completeChanged.emit()
            return False
        if result is None:
            half = self.assembler.waiting_for
            self.status.set_state("pending", self.tr("Split HIBC label: now scan its {half} barcode.").format(
                half=self.tr("lot/serial") if half == "secondary" else self.tr("product")))
            self.prompt.setText(self.tr("Scan the second barcode of the label."))
            self.completeChanged.emit()
            return False
        self.result = result
        if from_scanner:
            self.typed.clear()
        switched = wizard.follow_serial(result.serial)
        self._show_model(result.model is None)
        if result.model is None:
            self.prompt.setText(self.tr("Serial number {serial}: choose the product.").format(serial=result.serial))
            self.status.set_state("warning", self.tr("A serial-number label says nothing about the product: choose "
                                                     "it below, or scan the unit's UDI label instead."))
            self.model.setFocus()
        else:
            self.prompt.setText(self.tr("{model} serial {serial}").format(model=result.model, serial=result.serial))
            self.status.set_state("ok", self._read_text(result))
        if switched:
            self.status.set_state(self.status.state, self.status.text() + "\n" + self.tr(
                "Switched to {port}, the instrument that reports this serial number.").format(port=wizard.port))
            self.show_instrument()
        self.completeChanged.emit()
        return self.isComplete()

    def _read_text(self, result: ScanResult) -> str:
        kinds = {"gs1": self.tr("GS1 UDI label"), "hibc": self.tr("HIBC UDI label"), "plain": self.tr("serial number")}
        parts = [self.tr("Read a {kind}.").format(kind=kinds[result.kind])]
        if result.gtin:
            parts.append(self.tr("GTIN {gtin}").format(gtin=result.gtin))
        if result.lot:
            parts.append(self.tr("lot {lot}").format(lot=result.lot))
        return " ".join(parts)

    def _model_changed(self, _index: int) -> None:
        if self.result is not None and self.result.model is None and self.chosen_model():
            self.status.set_state("ok", self.tr("Serial number {serial}, product {model}.").format(
                serial=self.result.serial, model=self.chosen_model()))
        self.completeChanged.emit()

    def chosen_model(self) -> str | None:
        if self.result is not None and self.result.model is not None:
            return self.result.model
        return self.model.currentData()

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        if self.result is not None:
            return self.chosen_model() is not None
        return bool(self.typed.text().strip())

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name
        typed = self.typed.text().strip()
        if typed and typed != self._typed_taken:
            self._typed_taken = typed
            if self.assembler is not None:
                self.assembler.reset()
            if not self.take(typed, from_scanner=False):
                return False
        if self.result is None or self.chosen_model() is None:
            return False
        self.wizard().scan = self.result
        self.wizard().model = self.chosen_model()
        return True


# -- 3. confirm ----------------------------------------------------------------------------------------


_ROWS = ("model", "serial", "cn", "firmware")


class ConfirmPage(QWizardPage):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("confirmPage")
        self.setTitle(self.tr("Confirm the unit"))
        self.setSubTitle(self.tr("The label and the instrument must name the same unit. Provisioning reserves the "
                                 "device name and orders its certificate: it cannot be undone with Back."))
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, self.tr("&Provision"))
        layout = QVBoxLayout(self)
        grid = QGridLayout()
        bold = QFont(self.font())
        bold.setBold(True)
        for col, text in enumerate(("", self.tr("Label (scanned)"), self.tr("Instrument reports"), "")):
            head = QLabel(text)
            head.setFont(bold)
            grid.addWidget(head, 0, col)
        self.instrument_head = grid.itemAtPosition(0, 2).widget()
        names = {"model": self.tr("Model"), "serial": self.tr("Serial number"), "cn": self.tr("Device name (CN)"),
                 "firmware": self.tr("Firmware")}
        self.scanned: dict[str, QLabel] = {}
        self.reported: dict[str, QLabel] = {}
        self.marks: dict[str, QLabel] = {}
        for row, key in enumerate(_ROWS, start=1):
            grid.addWidget(QLabel(names[key] + ":"), row, 0)
            for target, col in ((self.scanned, 1), (self.reported, 2)):
                label = QLabel()
                label.setObjectName(f"{'scanned' if col == 1 else 'reported'}_{key}")
                label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                target[key] = label
                grid.addWidget(label, row, col)
            self.marks[key] = QLabel()
            grid.addWidget(self.marks[key], row, 3)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(2, 1)
        layout.addLayout(grid)
        self.registry_note = QLabel()
        self.registry_note.setObjectName("registryNote")
        self.registry_note.setWordWrap(True)
        layout.addWidget(self.registry_note)
        self.verdict = StatusLabel("pending", "")
        self.verdict.setObjectName("confirmVerdict")
        layout.addWidget(self.verdict)
        layout.addStretch(1)
        self.again = QPushButton(self.tr("&Ask the instrument again"))
        self.again.setObjectName("helloAgain")
        self.again.setAutoDefault(False)
        self.again.clicked.connect(self.check)
        layout.addWidget(self.again, 0, Qt.AlignmentFlag.AlignLeft)
        self.hello = None
        self.cn: str | None = None
        self.blocker: str | None = None
        self.cn_blocker: str | None = None
        self.checking = False
        self._generation = 0

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        wizard = self.wizard()
        scan = wizard.scan
        self.cn, self.cn_blocker = None, None
        self.scanned["model"].setText(wizard.model or "")
        self.scanned["serial"].setText(scan.serial)
        self.scanned["firmware"].setText("—")
        try:
            self.cn = scan.common_name(wizard.settings.cn_template(), wizard.model)
            self.scanned["cn"].setText(self.cn)
        except CertbenchError as exc:
            self.cn_blocker = failure_text(exc)
            self.scanned["cn"].setText(self.tr("(cannot be named)"))
        self.instrument_head.setText(self.tr("Instrument on {port} reports").format(port=wizard.port))
        self.check()

    def check(self) -> None:
        wizard = self.wizard()
        self.hello = None
        self.blocker = self.cn_blocker
        self._generation += 1
        generation = self._generation
        for key in _ROWS:
            self.reported[key].setText("…")
            self.marks[key].clear()
        self.registry_note.clear()
        self.checking = True
        self.again.setEnabled(False)
        self.verdict.set_state("pending", self.tr("Asking the instrument on {port} who it is…").format(port=wizard.port))
        port, scan, model = wizard.port, wizard.scan, wizard.model

        def ask(_ctl):
            env = wizard.bench_env()
            with env.open_instrument(port) as inst:
                info = inst.hello()
            unit = env.registry.find_unit(serial=scan.serial, model=model)
            return info, (unit.state, unit.cn, unit.last_workstation) if unit is not None else None

        Task(self, ask, name="technician-hello", keeps_open=False) \
            .on_success(lambda answer: generation == self._generation and self._answered(*answer)) \
            .on_failure(lambda exc: generation == self._generation and self._failed(exc)) \
            .on_finished(lambda: generation == self._generation and self._checked()) \
            .start()
        self.completeChanged.emit()

    def _checked(self) -> None:
        self.checking = False
        self.again.setEnabled(True)
        self.completeChanged.emit()
        # Only now is Provision enabled; focusing it any earlier (when the answer arrives)
        # is lost on a disabled button.
        if self.isComplete():
            QTimer.singleShot(0, self._focus_commit)

    def _failed(self, exc: BaseException) -> None:
        for key in _ROWS:
            self.reported[key].setText("?")
        self.blocker = self.tr("The instrument did not answer: {reason}").format(reason=failure_text(exc))
        self.verdict.set_state("fail", self.blocker)

    def _answered(self, info, unit) -> None:
        wizard = self.wizard()
        self.hello = info
        self.reported["model"].setText(info.model)
        self.reported["serial"].setText(info.serial)
        self.reported["cn"].setText("—")
        self.reported["firmware"].setText(info.firmware)
        self.scanned["firmware"].setText("—")
        model_ok = same_model(info.model, wizard.model or "")
        serial_ok = same_serial(info.serial, wizard.scan.serial)
        for key, ok in (("model", model_ok), ("serial", serial_ok)):
            self.marks[key].setPixmap(pixmap("ok" if ok else "fail", 16))
        problems = []
        if not serial_ok:
            problems.append(self.tr("the serial number differs (label {scanned}, instrument {reported})").format(
                scanned=wizard.scan.serial, reported=info.serial))
        if not model_ok:
            problems.append(self.tr("the model differs (label {scanned}, instrument {reported})").format(
                scanned=wizard.model, reported=info.model))
        if problems:
            self.blocker = self.tr("This is not the scanned unit: {problems}. Connect the instrument whose label was "
                                   "scanned (then Ask the instrument again), or go Back and scan the label of the "
                                   "connected one.").format(problems="; ".join(problems))
        elif self.blocker is None and unit is not None:
            state, cn, bench = unit
            if state == UnitState.DONE:
                self.blocker = self.tr("{cn} is already provisioned. To give it a new identity, re-provision it from "
                                       "History.").format(cn=cn)
            elif state in (UnitState.ROLLED_BACK, UnitState.REVOKED):
                self.blocker = self.tr("{cn} is {state}: only a re-provision (History) continues it.").format(
                    cn=cn, state=state.value.replace("_", " "))
            else:
                self.registry_note.setText(self.tr("{cn} was left unfinished ({state}) on {bench}: provisioning "
                                                   "resumes it where it stopped.").format(
                    cn=cn, state=state.value.replace("_", " "), bench=bench))
        if self.blocker:
            self.verdict.set_state("fail", self.blocker)
        else:
            self.verdict.set_state("ok", self.tr("The instrument is the scanned unit. Press Provision (Enter)."))

    def _focus_commit(self) -> None:
        wizard = self.wizard()
        if wizard is not None and wizard.currentPage() is self:
            wizard.button(QWizard.WizardButton.CommitButton).setFocus()

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.hello is not None and not self.checking and self.blocker is None
