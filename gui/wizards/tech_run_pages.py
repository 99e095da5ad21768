"""Technician wizard, pages 4 and 5: provisioning with its steps ticking green, a bar for each
transfer and what is happening in words; then the result, with the reason and the action to
take when it failed, "Resume" for a failure that can be resumed, and "Next unit"."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from certbench.core import secrets
from certbench.core.errors import CertbenchError, ConfigError, InputError
from certbench.core.workflows.progress import ProgressEvent
from certbench.core.workflows.unit_errors import KeyLost
from certbench.core.workflows.unit_provisioning import STEPS
from certbench.gui.errors import describe
from certbench.gui.resources import icon, pixmap
from certbench.gui.widgets.progress import set_progress
from certbench.gui.widgets.status import StatusLabel
from certbench.gui.widgets.steps import StepList


def step_labels(tr) -> dict[str, str]:
    return {
        "scan": tr("Read the label"),
        "connect": tr("Connect to the instrument"),
        "identify": tr("Check it is the scanned unit"),
        "intermediate": tr("Check the product's CA is verified"),
        "central": tr("Check the device name is free in IoT Central"),
        "reserve": tr("Reserve the device name"),
        "key": tr("Make the key pair"),
        "order": tr("Order the certificate"),
        "collect": tr("Collect the certificate"),
        "validate": tr("Validate the certificate chain"),
        "stage": tr("Send the credentials to the instrument"),
        "commit": tr("Make them live (commit)"),
        "readback": tr("Read back what the instrument holds"),
        "possession": tr("Prove the instrument holds the key"),
        "registration": tr("Register through IoT Central (DPS)"),
    }


def fingerprint_text(sha256_hex: str | None) -> str:
    if not sha256_hex:
        return ""
    text = sha256_hex.upper()
    return ":".join(text[i:i + 2] for i in range(0, len(text), 2))


def resumable(exc: BaseException) -> bool:
    """A refusal (wrong unit, already done, CA not verified) is not fixed by trying again;
    a pulled cable, an outage or an instrument hiccup is."""
    return not isinstance(exc, (InputError, ConfigError, KeyLost))


# -- 4. provision ----------------------------------------------------------------------------------


class ProvisionPage(QWizardPage):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("provisionPage")
        self.setTitle(self.tr("Provisioning"))
        # Also a commit page: QWizard only looks one page back, and the result must never lead back here.
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, self.tr("Show the &result"))
        layout = QVBoxLayout(self)
        self.labels = step_labels(self.tr)
        self.steps = StepList([(step, self.labels[step]) for step in STEPS])
        layout.addWidget(self.steps, 1)
        self.transfers = QGroupBox(self.tr("Transfers to the instrument"))
        self.transfers.setObjectName("transfers")
        self.transfer_layout = QFormLayout(self.transfers)
        self.transfer_bars: list[QProgressBar] = []
        self.transfers.hide()
        layout.addWidget(self.transfers)
        self.bar = QProgressBar()
        self.bar.setObjectName("overallProgress")
        self.bar.setRange(0, len(STEPS))
        self.bar.setFormat(self.tr("%v of %m steps"))
        layout.addWidget(self.bar)
        self.now = StatusLabel("pending", "")
        self.now.setObjectName("provisionNow")
        layout.addWidget(self.now)
        self.running = False
        self.events: list[ProgressEvent] = []

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        wizard = self.wizard()
        job = wizard.job
        scan_text = (self.tr("Resuming {cn} on {port}") if job == "resume" else
                     self.tr("{model} serial {serial} on {port}"))
        self.setSubTitle(scan_text.format(cn=wizard.cn or "", port=wizard.port, model=wizard.model or "",
                                          serial=wizard.scan.serial if wizard.scan else ""))
        self.steps.reset()
        self.events = []
        self.bar.setValue(0)
        for bar in self.transfer_bars:
            self.transfer_layout.removeRow(bar)
        self.transfer_bars = []
        self.transfers.hide()
        self.now.set_state("pending", self.tr("Starting…"))
        self.running = True
        wizard.start_job(self._progress, self._finished)
        self.completeChanged.emit()

    def _progress(self, event: ProgressEvent) -> None:
        self.events.append(event)
        if event.detail.get("transfer"):
            # Only the bar moves: re-wrapping the message label relayouts the page, ~20 times a transfer.
            self._transfer(event)
            return
        else:
            self.steps.apply(event)
            if event.step == "stage" and event.status == "started":
                self._new_transfer(event)
            elif event.step == "stage" and event.status == "done" and self.transfer_bars:
                bar = self.transfer_bars[-1]
                set_progress(bar, bar.maximum())
        set_progress(self.bar, self.steps.finished_count())
        state = {"failed": "fail", "done": "pending", "started": "pending", "skipped": "pending"}[event.status]
        if state == self.now.state:
            self.now.label.setText(event.message)  # the icon stays: no need to render it again
        else:
            self.now.set_state(state, event.message)

    def _new_transfer(self, event: ProgressEvent) -> None:
        total = int(event.detail.get("bytes_total") or 0)
        stores = ", ".join(event.detail.get("stores") or [])
        bar = QProgressBar()
        bar.setObjectName(f"transfer{len(self.transfer_bars) + 1}")
        bar.setRange(0, max(total, 1))
        bar.setValue(0)
        bar.setFormat(self.tr("%v of %m bytes"))
        self.transfer_layout.addRow(self.tr("Stores {stores}:").format(stores=stores) if stores else
                                    self.tr("Transfer:"), bar)
        self.transfer_bars.append(bar)
        self.transfers.show()

    def _transfer(self, event: ProgressEvent) -> None:
        if not self.transfer_bars:
            self._new_transfer(event)
        set_progress(self.transfer_bars[-1], int(event.detail.get("bytes_done") or 0),
                     max(int(event.detail.get("bytes_total") or 0), 1))

    def _finished(self) -> None:
        wizard = self.wizard()
        self.running = False
        if wizard.outcome is not None:
            # Steps this run did not need (done in an earlier run, or not asked for).
            for step in STEPS:
                if self.steps.state(step) == "pending":
                    self.steps.apply(ProgressEvent(step, "skipped", self.tr("done before")))
            self.bar.setValue(len(STEPS))
            self.now.set_state("ok", self.tr("Provisioned."))
        else:
            reason = describe(wizard.error) if wizard.error else self.tr("Stopped.")
            states = [self.steps.state(step) for step in STEPS]
            if "failed" not in states:
                # Failed between two steps (e.g. a check before writing): show it on the one it stopped before.
                running = [s for s in STEPS if self.steps.state(s) == "started"]
                pending = [s for s in STEPS if self.steps.state(s) == "pending"]
                where = (running or pending or [STEPS[-1]])[0]
                self.steps.apply(ProgressEvent(where, "failed", reason))
            self.now.set_state("fail", reason)
        self.completeChanged.emit()
        QTimer.singleShot(0, self._show_result)

    def _show_result(self) -> None:
        wizard = self.wizard()
        if wizard is not None and wizard.currentPage() is self and not self.running:
            wizard.next()

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return not self.running


# -- 5. result ---------------------------------------------------------------------------------------


class ResultPage(QWizardPage):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("resultPage")
        self.setTitle(self.tr("Result"))
        layout = QVBoxLayout(self)
        head = QHBoxLayout()
        self.icon = QLabel()
        head.addWidget(self.icon)
        self.headline = QLabel()
        self.headline.setObjectName("resultHeadline")
        font = QFont(self.headline.font())
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        self.headline.setFont(font)
        head.addWidget(self.headline, 1)
        layout.addLayout(head)
        form = QFormLayout()
        self.fields: dict[str, QLabel] = {}
        for key, label in (("unit", self.tr("Unit:")), ("cn", self.tr("Device name (CN):")),
                           ("fingerprint", self.tr("Certificate SHA-256:")), ("key", self.tr("Key made:")),
                           ("registration", self.tr("Registration:")), ("reason", self.tr("What went wrong:")),
                           ("action", self.tr("What to do:"))):
            value = QLabel()
            value.setObjectName(f"result_{key}")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[key] = value
            form.addRow(label, value)
        self.form = form
        layout.addLayout(form)
        layout.addStretch(1)
        self.next_hint = QLabel(self.tr("Scan the next unit's label to start it at once."))
        self.next_hint.setObjectName("nextHint")
        layout.addWidget(self.next_hint)
        buttons = QHBoxLayout()
        self.resume = QPushButton(icon("refresh"), self.tr("&Resume"))
        self.resume.setObjectName("resumeButton")
        self.resume.setToolTip(self.tr("Continue this unit from where it stopped (after fixing the cause)."))
        self.resume.clicked.connect(lambda: self.wizard().resume())
        self.next_unit = QPushButton(icon("scan"), self.tr("&Next unit"))
        self.next_unit.setObjectName("nextUnitButton")
        self.next_unit.clicked.connect(lambda: self.wizard().next_unit())
        buttons.addWidget(self.resume)
        buttons.addWidget(self.next_unit)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.passed = False

    def _show_row(self, key: str, text: str) -> None:
        self.fields[key].setText(text)
        self.form.setRowVisible(self.fields[key], bool(text))

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        wizard = self.wizard()
        outcome, error = wizard.outcome, wizard.error
        self.passed = outcome is not None
        serial = outcome.serial if outcome else (wizard.scan.serial if wizard.scan else "")
        model = outcome.model if outcome else (wizard.model or "")
        self._show_row("unit", self.tr("{model} serial {serial} on {port}").format(model=model, serial=serial,
                                                                                   port=wizard.port))
        self._show_row("cn", outcome.cn if outcome else (wizard.cn or ""))
        if self.passed:
            self.icon.setPixmap(pixmap("ok", 48))
            self.headline.setText(self.tr("Passed"))
            self.headline.setStyleSheet("color: #2e7d32;")
            self._show_row("fingerprint", fingerprint_text(outcome.certificate_sha256))
            origins = {"device": self.tr("on the instrument"), "workstation": self.tr("on this workstation")}
            self._show_row("key", origins.get(outcome.key_origin or "", outcome.key_origin or ""))
            self._show_row("registration", outcome.registration or "")
            self._show_row("reason", "")
            self._show_row("action", "")
            self.resume.hide()
            self.next_unit.setFocus()
        else:
            self.icon.setPixmap(pixmap("fail", 48))
            self.headline.setText(self.tr("Failed"))
            self.headline.setStyleSheet("color: #c62828;")
            self._show_row("fingerprint", "")
            self._show_row("key", "")
            self._show_row("registration", "")
            self._show_row("reason", describe(error) if error else self.tr("Stopped before it finished."))
            hint = error.hint if isinstance(error, CertbenchError) and error.hint else ""
            self._show_row("action", secrets.redact(hint) if hint else "")
            can_resume = error is None or resumable(error)
            self.resume.setVisible(can_resume)
            (self.resume if can_resume else self.next_unit).setFocus()

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return True
