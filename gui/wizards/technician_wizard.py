"""The technician wizard: plug in, scan, confirm, watch it go green, next.

    instrument -> scan -> confirm (commit point: "Provision") -> provision (live steps)
    -> result -> next unit (one scan away) / resume

Scans come from a keyboard-wedge scanner wherever the focus is in the wizard (an
application event filter feeding `WedgeDetector`), from a serial scanner on the port in
Settings > Bench, or from the typed-entry field. A scan on the result page starts the next
unit at once: the instrument that reports the scanned serial is chosen when exactly one
does, otherwise the same port is used (the technician swapped the instrument on it).

All work runs as `Task`s on one process-wide `BenchEnv` (`tech_bench.shared_env`), so a
failed unit's workstation key survives for "Resume", and several wizards (one per
instrument) can run at once; each holds its port so two never talk to one instrument.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QCloseEvent, QHideEvent, QShowEvent
from PySide6.QtWidgets import QWidget, QWizard

from certbench.core.bench import BenchEnv, default_operator
from certbench.core.config import Settings
from certbench.core.dashboard import InstrumentRow
from certbench.core.naming.scan import ScanResult, interpret_scan
from certbench.core.naming.scanner import WedgeDetector
from certbench.core.workflows.unit_provisioning import UnitOutcome, provision_unit, resume_unit
from certbench.core.workflows.unit_steps import ProvisionOptions
from certbench.gui.resources import pixmap
from certbench.gui.tasks import Task
from certbench.gui.ui_state import restore_geometry, save_geometry
from certbench.gui.wizards import tech_bench
from certbench.gui.wizards.tech_instrument_page import InstrumentPage
from certbench.gui.wizards.tech_run_pages import ProvisionPage, ResultPage
from certbench.gui.wizards.tech_scan_pages import ConfirmPage, ScanPage, failure_text
from certbench.gui.wizards.tech_scanning import SerialScanSource, WedgeFilter

PAGE_INSTRUMENT, PAGE_SCAN, PAGE_CONFIRM, PAGE_PROVISION, PAGE_RESULT = range(5)
# Demo mode: the emulated CA issues at once, so poll it briskly.
DEMO_OPTIONS = ProvisionOptions(collect_poll_interval=0.1, collect_poll_max_interval=1.0)


class TechnicianWizard(QWizard):
    unit_finished = Signal(object)  # UnitOutcome, or the exception a run failed with
    scan_received = Signal(str)  # every scan taken (any source), for the status line and tests

    def __init__(self, settings: Settings, parent: QWidget | None = None, *, demo: Any = None,
                 env: BenchEnv | None = None, operator: str | None = None,
                 options: ProvisionOptions | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("technicianWizard")
        self.setWindowTitle(self.tr("Provision units"))
        self.setPixmap(QWizard.WizardPixmap.LogoPixmap, pixmap("scan", 48))
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.setButtonText(QWizard.WizardButton.FinishButton, self.tr("&Close"))
        self.settings = settings
        self.demo = demo
        self.env = env
        self.operator = operator or default_operator()
        self.options = options or (DEMO_OPTIONS if demo is not None else ProvisionOptions())
        # The unit in hand.
        self.port: str | None = None
        self.scan: ScanResult | None = None
        self.model: str | None = None
        self.job = "provision"  # or "resume"
        self.resume_cn: str | None = None
        self.outcome: UnitOutcome | None = None
        self.error: BaseException | None = None
        self.task: Task | None = None
        self.units_done = 0

        self.instrument_page = InstrumentPage()
        self.scan_page = ScanPage()
        self.confirm_page = ConfirmPage()
        self.provision_page = ProvisionPage()
        self.result_page = ResultPage()
        for page_id, page in enumerate((self.instrument_page, self.scan_page, self.confirm_page,
                                        self.provision_page, self.result_page)):
            self.setPage(page_id, page)
        self.setStartId(PAGE_INSTRUMENT)

        self.wedge = WedgeFilter(self, WedgeDetector.from_settings(settings))
        self.wedge.scanned.connect(self.accept_scan)
        self.serial_scanner: SerialScanSource | None = None
        if settings.bench.scanner_port:
            self.serial_scanner = SerialScanSource(settings.bench.scanner_port, settings.bench.scanner_prefix,
                                                   settings.bench.scanner_suffix, self)
            self.serial_scanner.scanned.connect(self.accept_scan)
            self.serial_scanner.failed.connect(self._scanner_failed)
        self.demo_labels_dialog = None
        self.resize(780, 600)
        restore_geometry(self, "technicianWizard", position=False)

    # -- environment (called on worker threads) -------------------------------------------------------
    def bench_env(self) -> BenchEnv:
        if self.env is None:
            self.env = tech_bench.shared_env(self.settings, self.demo, self.operator)
        return self.env

    # -- instrument ------------------------------------------------------------------------------------------
    def use_port(self, port: str) -> bool:
        """Hold `port` for this wizard (releasing the one held before)."""
        if tech_bench.port_holder(port) not in (None, self):
            return False
        tech_bench.release_ports(self)
        tech_bench.claim_port(port, self)
        self.port = port
        return True

    def instrument_row(self) -> InstrumentRow | None:
        return next((r for r in self.instrument_page.rows if r.port == self.port), None)

    def follow_serial(self, serial: str) -> bool:
        """When the held port's instrument reported another serial and exactly one other free
        instrument reports this one, switch to it. True when switched."""
        current = self.instrument_row()
        if current is not None and current.serial.casefold() == serial.casefold():
            return False
        row = self.instrument_page.row_for_serial(serial)
        if row is None or row.port == self.port or not self.use_port(row.port):
            return False
        self.instrument_page.select_port(row.port)
        return True

    # -- scans -----------------------------------------------------------------------------------------------
    def accept_scan(self, text: str) -> None:
        """A scan from any source, whatever page is showing."""
        self.scan_received.emit(text)
        page = self.currentId()
        if page == PAGE_SCAN:
            if self.scan_page.take(text, from_scanner=True):
                QTimer.singleShot(0, self._advance_from_scan)
        elif page == PAGE_RESULT:
            self.next_unit(text)
        elif page == PAGE_INSTRUMENT:
            try:
                serial = interpret_scan(text, self.settings).serial
            except Exception:  # noqa: BLE001 - the scan page says what is wrong with it
                serial = None
            row = self.instrument_page.row_for_serial(serial) if serial else None
            if row is not None:
                self.instrument_page.select_port(row.port)
            if self.instrument_page.isComplete():
                self.next()
                if self.currentId() == PAGE_SCAN:
                    self.accept_scan(text)
        elif page == PAGE_CONFIRM:
            self.back()  # a new label replaces the one being confirmed
            self.accept_scan(text)
        # While provisioning a scan is ignored: this unit first.

    def _advance_from_scan(self) -> None:
        if self.currentId() == PAGE_SCAN and self.scan_page.isComplete():
            self.next()

    def _scanner_failed(self, exc: BaseException) -> None:
        if self.currentId() == PAGE_SCAN:
            self.scan_page.status.set_state("warning", failure_text(exc))

    def show_demo_labels(self) -> None:
        if self.demo is None:
            return
        from certbench.gui.widgets.demo_labels import DemoLabelsDialog

        if self.demo_labels_dialog is None or not shiboken6.isValid(self.demo_labels_dialog):
            self.demo_labels_dialog = DemoLabelsDialog(tech_bench.demo_labels(self.demo), self)
        if self.demo_labels_dialog.isVisible():
            self.demo_labels_dialog.raise_()
        else:
            self.demo_labels_dialog.show()

    # -- running ---------------------------------------------------------------------------------------------
    @property
    def cn(self) -> str | None:
        if self.job == "resume":
            return self.resume_cn
        return self.confirm_page.cn

    def start_job(self, progress: Callable, finished: Callable) -> None:
        self.outcome, self.error = None, None
        env_of, port, options = self.bench_env, self.port, self.options
        if self.job == "resume":
            cn, scan, model = self.resume_cn, self.scan, self.model

            def work(ctl):
                env = env_of()
                if env.registry.find_unit(cn) is None:  # stopped before anything was reserved
                    return provision_unit(env, scan, port, model=model, progress=ctl.progress, options=options)
                return resume_unit(env, cn, port, progress=ctl.progress, options=options)
        else:
            scan, model = self.scan, self.model

            def work(ctl):
                return provision_unit(env_of(), scan, port, model=model, progress=ctl.progress, options=options)

        self.task = Task(self, work, name=f"technician-{self.job}-{port}") \
            .on_progress(progress) \
            .on_success(self._succeeded) \
            .on_failure(self._failed) \
            .on_finished(finished) \
            .start()

    def _succeeded(self, outcome: UnitOutcome) -> None:
        self.outcome = outcome
        self.units_done += 1
        self.unit_finished.emit(outcome)

    def _failed(self, exc: BaseException) -> None:
        self.error = exc
        self.unit_finished.emit(exc)

    @property
    def running(self) -> bool:
        return self.provision_page.running

    def resume(self) -> None:
        """Continue the failed unit (after the cable is back, the service up again...)."""
        self.resume_cn = self.cn
        self.job = "resume"
        self._restart_at(PAGE_PROVISION)

    def next_unit(self, scan_text: str | None = None) -> None:
        self.job, self.resume_cn = "provision", None
        self.scan, self.outcome, self.error = None, None, None
        self._restart_at(PAGE_INSTRUMENT)
        if self.instrument_page.isComplete():
            self.next()
        if scan_text is not None:
            self.accept_scan(scan_text)

    def back(self) -> None:
        # QWizard.back() itself ignores commit pages; past the commit point there is no way back.
        if self.currentId() in (PAGE_PROVISION, PAGE_RESULT):
            return
        super().back()

    def _restart_at(self, page_id: int) -> None:
        # restart() empties the history: what came before cannot be reached with Back.
        self.setStartId(page_id)
        self.restart()
        self.setStartId(PAGE_INSTRUMENT)

    # -- window --------------------------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.wedge.install()
        if self.serial_scanner is not None and not self.serial_scanner.scanner.running:
            self.serial_scanner.start()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt's name
        super().hideEvent(event)
        if not event.spontaneous():
            save_geometry(self, "technicianWizard")
        if not self.isVisible():
            self.wedge.remove()

    def done(self, result: int) -> None:
        if self.running:
            return  # an instrument is being written: the run finishes first
        self.wedge.remove()
        if self.serial_scanner is not None:
            self.serial_scanner.stop()
        tech_bench.release_ports(self)
        super().done(result)

    def reject(self) -> None:
        if self.running:
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self.running:
            event.ignore()
            return
        super().closeEvent(event)


__all__ = ["PAGE_CONFIRM", "PAGE_INSTRUMENT", "PAGE_PROVISION", "PAGE_RESULT", "PAGE_SCAN", "TechnicianWizard"]
