"""The administrator wizard: prove possession of an intermediate CA to IoT Central.

    choose (configured / from Sectigo / from a file) -> inspect -> group and entry (commit)
    -> run (live steps) -> result

Opened from Administration > Verify an intermediate… once the administrator role is
unlocked. Leaving the group page is the commit point: from there on IoT Central changes and
Back is gone; a failed run is retried in place ("Try again"), which resumes from what IoT
Central holds. Every outcome is written to the registry's audit trail with the operator and
workstation (`core.ca_admin.run_verification`).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent, QHideEvent
from PySide6.QtWidgets import QWidget, QWizard

from certbench.core import ca_admin
from certbench.core.config import Settings
from certbench.gui.resources import pixmap
from certbench.gui.ui_state import restore_geometry, save_geometry
from certbench.gui.wizards.admin_pages import ChoosePage, GroupPage, InspectPage, ResultPage, RunPage

PAGE_CHOOSE, PAGE_INSPECT, PAGE_GROUP, PAGE_RUN, PAGE_RESULT = range(5)


class AdminWizard(QWizard):
    verified = Signal(object)  # VerificationOutcome, when a run succeeded

    def __init__(self, settings: Settings, parent: QWidget | None = None, *, operator: str | None = None,
                 preselect: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("adminWizard")
        self.setWindowTitle(self.tr("Verify an intermediate CA"))
        self.setPixmap(QWizard.WizardPixmap.LogoPixmap, pixmap("admin", 48))
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.settings = settings
        self.operator = operator or ca_admin.default_operator()
        self.preselect = preselect
        self.choose_page = ChoosePage()
        self.inspect_page = InspectPage()
        self.group_page = GroupPage()
        self.run_page = RunPage()
        self.result_page = ResultPage()
        for page_id, page in enumerate((self.choose_page, self.inspect_page, self.group_page, self.run_page,
                                        self.result_page)):
            self.setPage(page_id, page)
        self.setStartId(PAGE_CHOOSE)
        self.resize(760, 620)
        restore_geometry(self, "adminWizard")

    @property
    def candidate(self) -> ca_admin.Candidate | None:
        return self.choose_page.candidate

    def reject(self) -> None:
        # Cancelling while IoT Central is being changed would hide how it ended: wait for it.
        if self.run_page.running:
            return
        super().reject()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt's name
        super().hideEvent(event)
        if not event.spontaneous():
            save_geometry(self, "adminWizard")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self.run_page.running:
            event.ignore()
            return
        super().closeEvent(event)


__all__ = ["PAGE_CHOOSE", "PAGE_GROUP", "PAGE_INSPECT", "PAGE_RESULT", "PAGE_RUN", "AdminWizard"]
