"""The bench dashboard: instruments, intermediates, today's units and connections, with the
actions of the day (technician wizard, history) and, once unlocked, the administrator's.

Everything the panels show is gathered by `certbench.core.dashboard` on the task runner; the
window only starts tasks and fills panels when their results arrive.
"""

from __future__ import annotations

import logging

import shiboken6
from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from certbench.core import __version__, dashboard, roles
from certbench.core.config import Settings
from certbench.core.errors import CertbenchError, ConfigError
from certbench.gui.admin import Role, SetPasswordDialog, UnlockDialog
from certbench.gui.errors import report_exception
from certbench.gui.resources import icon
from certbench.gui.settings_dialog import SettingsDialog, problem_key
from certbench.gui.tasks import Task, task_runner
from certbench.gui.ui_state import ui_settings
from certbench.gui.widgets.banner import DemoBanner
from certbench.gui.widgets.instruments import InstrumentsPanel
from certbench.gui.widgets.intermediates import IntermediatesPanel
from certbench.gui.widgets.services import ServicesPanel
from certbench.gui.widgets.units import UnitsPanel

log = logging.getLogger(__name__)

# Today's counts are re-read this often (ms) while the window is open.
UNITS_REFRESH_MS = 60_000
# The configured services are tested again this often (ms): the Connections row stays true.
CONNECTIONS_REFRESH_MS = 300_000
# Actions a technician does not see until the administrator role is unlocked.
ADMIN_ACTIONS = ("admin_wizard", "settings", "change_password", "lock")


def _message(exc: BaseException) -> str:
    return exc.message if isinstance(exc, CertbenchError) else f"{type(exc).__name__}: {exc}"


class MainWindow(QMainWindow):
    refreshed = Signal()  # every panel has its answer (tests wait for this)

    def __init__(
        self,
        settings: Settings,
        *,
        demo: bool = False,
        settings_problem: ConfigError | None = None,
        demo_services=None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.settings = settings
        self.demo = demo
        self.demo_services = demo_services  # core.demo.DemoServices in `gui --demo`: simulated instruments
        self.settings_problem = settings_problem
        self.role = Role(self)
        self.role.changed.connect(self._apply_role)
        self.dialogs: dict[str, QWidget] = {}
        self._pending_refresh: set[str] = set()
        self._close_when_idle = False
        self._ready = not demo  # demo: after its setup task (admin password, local CA)

        title = self.tr("Certbench {version}").format(version=__version__)
        if demo:
            title += " — " + self.tr("DEMO MODE (emulators, throw-away data)")
        self.setWindowTitle(title)
        self.setWindowIcon(icon("app"))

        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        self.demo_banner: DemoBanner | None = None
        if demo:
            self.demo_banner = DemoBanner()
            outer.addWidget(self.demo_banner)
        body = QWidget()
        grid = QGridLayout(body)
        grid.setContentsMargins(10, 10, 10, 10)
        self.instruments = InstrumentsPanel()
        self.intermediates = IntermediatesPanel()
        self.units = UnitsPanel()
        self.services = ServicesPanel(demo)
        grid.addWidget(self.instruments, 0, 0, 2, 1)
        grid.addWidget(self.intermediates, 0, 1)
        grid.addWidget(self.units, 1, 1)
        grid.addWidget(self.services, 2, 0, 1, 2)
        # The intermediates table has the longer columns (name, group / entry, state).
        grid.setColumnStretch(0, 2)
        grid.setColumnStretch(1, 3)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 1)
        outer.addWidget(body, 1)
        self.setCentralWidget(central)

        self._make_actions()
        self._make_menus_and_toolbar()
        self.role_label = QLabel()
        self.role_label.setObjectName("roleLabel")
        self.statusBar().addPermanentWidget(self.role_label)
        self.busy_label = QLabel()
        self.statusBar().addPermanentWidget(self.busy_label)
        task_runner().busy_changed.connect(self._busy_changed)
        task_runner().idle.connect(self._on_idle)
        self._apply_role(False)

        self.units_timer = QTimer(self)
        self.units_timer.setInterval(UNITS_REFRESH_MS)
        self.units_timer.timeout.connect(self.refresh_units)
        self.connections_timer = QTimer(self)
        self.connections_timer.setInterval(CONNECTIONS_REFRESH_MS)
        self.connections_timer.timeout.connect(lambda: self.check_connections(self._checked_services))
        self._checked_services: list[str] = []
        self._restore_state()

    # -- actions -------------------------------------------------------------------------------
    def _action(self, name: str, text: str, icon_name: str | None = None, slot=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        action.setObjectName(f"action_{name}")
        if icon_name:
            action.setIcon(icon(icon_name))
        if slot:
            action.triggered.connect(slot)
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        self.actions_by_name[name] = action
        return action

    def _make_actions(self) -> None:
        self.actions_by_name: dict[str, QAction] = {}
        a = self._action("technician_wizard", self.tr("&Provision units…"), "scan", self.open_technician_wizard,
                         self.tr("Technician wizard: scan, confirm and provision units (one window per instrument)."))
        a.setShortcut(QKeySequence("F2"))
        self._action("history", self.tr("&History…"), "history", self.open_history,
                     self.tr("Search units, see their audit trail, export, verify the audit trail."))
        a = self._action("refresh", self.tr("&Refresh"), "refresh", self.refresh,
                         self.tr("Read instruments, intermediates and today's units again."))
        a.setShortcut(QKeySequence.StandardKey.Refresh)
        self._action("check_connections", self.tr("&Check connections"), None, lambda: self.check_connections(),
                     self.tr("Test IoT Central, Sectigo and the registry now."))
        self._action("unlock", self.tr("&Unlock administrator functions…"), "lock", self.request_unlock,
                     self.tr("Settings and intermediate verification need the administrator password."))
        self._action("lock", self.tr("&Lock administrator functions"), "unlock", self.role.lock,
                     self.tr("Back to technician mode."))
        self._action("admin_wizard", self.tr("&Verify an intermediate…"), "admin", self.open_admin_wizard,
                     self.tr("Administrator wizard: proof of possession in IoT Central."))
        self._action("settings", self.tr("&Settings…"), "settings", self.open_settings,
                     self.tr("IoT Central, Sectigo, products, registry and bench settings."))
        self._action("change_password", self.tr("Change administrator &password…"), None, self.change_password)
        self._action("about", self.tr("&About Certbench"), "info", self.show_about)
        a = self._action("quit", self.tr("&Quit"), None, self.close)
        a.setShortcut(QKeySequence.StandardKey.Quit)

    def _make_menus_and_toolbar(self) -> None:
        acts = self.actions_by_name
        menu = self.menuBar().addMenu(self.tr("&File"))
        menu.addAction(acts["quit"])
        menu = self.menuBar().addMenu(self.tr("&Bench"))
        for name in ("technician_wizard", "history", "refresh", "check_connections"):
            menu.addAction(acts[name])
        self.admin_menu = self.menuBar().addMenu(self.tr("&Administration"))
        for name in ("unlock", "admin_wizard", "settings", "change_password", "lock"):
            self.admin_menu.addAction(acts[name])
        menu = self.menuBar().addMenu(self.tr("&Help"))
        menu.addAction(acts["about"])

        toolbar = QToolBar(self.tr("Main"))
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        toolbar.setMovable(False)
        for name in ("technician_wizard", "history", "refresh"):
            toolbar.addAction(acts[name])
        toolbar.addSeparator()
        for name in ("admin_wizard", "settings", "unlock", "lock"):
            toolbar.addAction(acts[name])
        self.addToolBar(toolbar)
        self.toolbar = toolbar

    def _apply_role(self, admin: bool) -> None:
        for name in ADMIN_ACTIONS:
            self.actions_by_name[name].setVisible(admin)
        self.actions_by_name["unlock"].setVisible(not admin)
        self.actions_by_name["unlock"].setEnabled(self._ready)
        self.role_label.setText(self.tr("Administrator") if admin else self.tr("Technician"))
        for name in ("settings", "admin_wizard"):
            dialog = self.dialogs.get(name)
            if not admin and dialog is not None and shiboken6.isValid(dialog):
                dialog.close()  # locking takes the administrator's dialogs away too

    def admin_actions_visible(self) -> list[str]:
        return [name for name in ADMIN_ACTIONS if self.actions_by_name[name].isVisible()]

    # -- start-up ------------------------------------------------------------------------------
    def start(self) -> None:
        """After show(): demo set-up (if any), then the first refresh and the settings problem."""
        if self.demo:
            services = self.demo_services
            Task(self, lambda _ctl: self._demo_setup(self.settings, services), name="demo-setup") \
                .on_success(lambda _r: self._demo_ready()) \
                .start()
        else:
            self.refresh()
        self.units_timer.start()
        self.connections_timer.start()
        if self.settings_problem is not None:
            QTimer.singleShot(0, self._report_settings_problem)

    @staticmethod
    def _demo_setup(settings: Settings, services=None) -> None:
        from certbench.core.demo import DEMO_ADMIN_PASSWORD
        from certbench.core.pki.local import LocalCA
        from certbench.gui.wizards.tech_bench import add_demo_instruments

        roles.set_admin_password(DEMO_ADMIN_PASSWORD, allow_short=True)
        LocalCA.from_settings(settings).ensure()
        if services is not None:
            add_demo_instruments(services)

    def _demo_ready(self) -> None:
        self._ready = True
        self._apply_role(self.role.admin)
        self.refresh()

    def _report_settings_problem(self) -> None:
        problem = self.settings_problem
        box = QMessageBox(self)
        box.setObjectName("settingsProblemDialog")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(self.tr("Settings need attention"))
        key = problem_key(problem) or self.tr("(see the message)")
        box.setText(self.tr("The settings could not be loaded. Problem with {key}:").format(key=key))
        box.setInformativeText(problem.message + (f"\n\n{problem.hint}" if problem.hint else "")
                               + "\n\n" + self.tr("Certbench runs on its built-in defaults until this is corrected "
                                                  "in Settings (administrator password needed)."))
        box.finished.connect(lambda _r: self.open_settings())
        self.dialogs["settings_problem"] = box
        box.open()

    # -- refresh -------------------------------------------------------------------------------
    def refresh(self) -> None:
        settings = self.settings
        self._pending_refresh = {"instruments", "intermediates", "units", "services"}
        self.instruments.set_loading()

        services = self.demo_services

        def instruments(_ctl):
            if services is not None:  # demo: the simulated instruments, skipping ports a wizard is using
                from certbench.gui.wizards.tech_bench import discover

                return discover(services.open_transport, list(services.instruments))
            if not dashboard.instrument_discovery_available():
                return None
            return dashboard.discover_instruments(settings=settings)

        def shown_instruments(rows) -> None:
            if rows is None:
                self.instruments.set_unavailable()
            else:
                self.instruments.set_instruments(rows)

        self._panel_task("instruments", instruments, shown_instruments, self.instruments.set_error)
        self._panel_task("intermediates", lambda _ctl: dashboard.intermediate_rows(settings),
                         self._intermediates_loaded, self.intermediates.set_error)
        self._panel_task("units", lambda _ctl: dashboard.todays_units(settings.registry.url or None),
                         self.units.set_counts, self.units.set_error)
        self._panel_task("services", lambda _ctl: dashboard.service_states(settings),
                         self._services_loaded, lambda _m: None)

    def refresh_units(self) -> None:
        if "units" not in self._pending_refresh:
            self._panel_task("units", lambda _ctl: dashboard.todays_units(self.settings.registry.url or None),
                             self.units.set_counts, self.units.set_error)

    def _panel_task(self, name: str, fn, shown, failed, *, hint: bool = False) -> None:
        """A dashboard look-up; `failed` gets the message (and, with `hint`, the hint too)."""
        self._pending_refresh.add(name)

        def done() -> None:
            self._pending_refresh.discard(name)
            if not self._pending_refresh:
                self.refreshed.emit()

        def failure(exc: BaseException) -> None:
            log.warning("Dashboard %s: %s", name, exc)
            if hint:
                failed(_message(exc) + (f"\n{exc.hint}" if isinstance(exc, CertbenchError) and exc.hint else ""))
            else:
                failed(_message(exc))

        Task(self, fn, name=f"dashboard-{name}", keeps_open=False) \
            .on_success(shown) \
            .on_failure(failure) \
            .on_finished(done) \
            .start()

    def _intermediates_loaded(self, rows) -> None:
        self.intermediates.set_rows(rows)
        if dashboard.verification_status_available():
            settings = self.settings
            Task(self, lambda _ctl: dashboard.verification_status(settings), name="verification-status",
                 keeps_open=False) \
                .on_success(self.intermediates.set_verification) \
                .on_failure(lambda exc: log.warning("IoT Central status: %s", exc)) \
                .start()

    def _services_loaded(self, states) -> None:
        """Each configured service in use is tested at once (a look-up on the task runner):
        the Connections row says whether it answers, not only how it is configured."""
        self.services.set_states(states)
        self._checked_services = [state.service for state in states if state.configured and state.used]
        self.check_connections(self._checked_services)

    def check_connections(self, services: list[str] | None = None) -> None:
        """Test `services` (all three when None: the menu's "Check connections") with one real
        call each, off the GUI thread; part of the refresh, so `refreshed` waits for them."""
        from certbench.core import connection_checks

        checks = {
            "iotcentral": lambda s: connection_checks.check_iotcentral(s.iotcentral),
            "sectigo": lambda s: connection_checks.check_sectigo(s.sectigo),
            "registry": lambda s: connection_checks.check_registry(s.registry),
        }
        settings = self.settings
        for service in (list(checks) if services is None else services):
            if f"check-{service}" in self._pending_refresh:
                continue  # its answer is on the way
            self.services.set_checking(service)
            self._panel_task(
                f"check-{service}", lambda _ctl, c=checks[service]: c(settings),
                lambda text, s=service: self.services.set_checked(s, True, text),
                lambda message, s=service: self.services.set_checked(s, False, message),
                hint=True,
            )

    # -- administrator -------------------------------------------------------------------------
    def request_unlock(self) -> None:
        Task(self, lambda _ctl: roles.admin_password_is_set(), name="admin-password-set?", keeps_open=False) \
            .on_success(self._open_unlock) \
            .start()

    def _open_unlock(self, password_set: bool) -> None:
        if password_set:
            dialog = UnlockDialog(self.demo, self)
            dialog.unlocked.connect(self.role.unlock)
            self.dialogs["unlock_dialog"] = dialog
        else:
            dialog = SetPasswordDialog(True, self)
            dialog.password_set.connect(self.role.unlock)
            self.dialogs["password_dialog"] = dialog
        dialog.open()

    def change_password(self) -> None:
        dialog = SetPasswordDialog(False, self)
        self.dialogs["password_dialog"] = dialog
        dialog.open()

    def open_settings(self) -> None:
        if not self.role.admin:
            # Settings are an administrator function: unlock first, then open them.
            self.role.changed.connect(self._settings_after_unlock)
            self.request_unlock()
            return
        dialog = SettingsDialog(self.settings, self, problem=self.settings_problem)
        state = ui_settings()
        geometry = state.value("settingsDialog/geometry")
        if isinstance(geometry, QByteArray):
            dialog.restoreGeometry(geometry)
        dialog.tabs.setCurrentIndex(int(state.value("settingsDialog/tab", 0)))
        if self.settings_problem is not None:
            dialog.focus_key(problem_key(self.settings_problem) or "")
        dialog.saved.connect(self._settings_saved)
        dialog.finished.connect(lambda _r, d=dialog: self._remember_dialog(d))
        self.dialogs["settings"] = dialog
        dialog.open()

    def open_admin_wizard(self) -> None:
        if not self.role.admin:
            return  # the action is hidden until unlocked
        from certbench.gui.wizards.admin_wizard import AdminWizard

        wizard = AdminWizard(self.settings, self)
        wizard.verified.connect(lambda _outcome: self.refresh())
        self.dialogs["admin_wizard"] = wizard
        wizard.show()

    def open_technician_wizard(self) -> None:
        """A new wizard each time: one per instrument, side by side."""
        from certbench.gui.wizards.technician_wizard import TechnicianWizard

        wizard = TechnicianWizard(self.settings, self, demo=self.demo_services)
        wizard.unit_finished.connect(lambda _result: self.refresh_units())
        self.dialogs["technician_wizard"] = wizard
        wizard.show()

    def open_history(self) -> None:
        from certbench.gui.history_window import HistoryWindow

        window = self.dialogs.get("history")
        if window is None or not shiboken6.isValid(window):
            window = HistoryWindow(self.settings, self)
            self.dialogs["history"] = window
        window.settings = self.settings  # saved settings apply to the next search
        if window.isVisible():
            window.raise_()
            window.activateWindow()
        else:
            window.show()

    def _settings_after_unlock(self, admin: bool) -> None:
        self.role.changed.disconnect(self._settings_after_unlock)
        if admin:
            self.open_settings()

    def _remember_dialog(self, dialog: SettingsDialog) -> None:
        state = ui_settings()
        state.setValue("settingsDialog/geometry", dialog.saveGeometry())
        state.setValue("settingsDialog/tab", dialog.tabs.currentIndex())

    def _settings_saved(self, settings: Settings) -> None:
        self.settings = settings
        self.settings_problem = None
        self.statusBar().showMessage(self.tr("Settings saved."), 5000)
        self.refresh()

    def show_about(self) -> None:
        box = QMessageBox(self)
        box.setObjectName("aboutDialog")
        box.setWindowTitle(self.tr("About Certbench"))
        box.setIconPixmap(icon("app").pixmap(64, 64))
        box.setText(self.tr("<b>Certbench {version}</b>").format(version=__version__))
        box.setInformativeText(self.tr(
            "Bench provisioning station for MediCorp's connected instruments: per-unit X.509 identities, "
            "Azure IoT Central proof of possession, USB-serial provisioning."))
        self.dialogs["about"] = box
        box.open()

    # -- window state and closing --------------------------------------------------------------
    def _restore_state(self) -> None:
        state = ui_settings()
        geometry = state.value("mainWindow/geometry")
        if isinstance(geometry, QByteArray) and self.restoreGeometry(geometry):
            window_state = state.value("mainWindow/state")
            if isinstance(window_state, QByteArray):
                self.restoreState(window_state)
        else:
            self.resize(1180, 760)

    def save_state(self) -> None:
        state = ui_settings()
        state.setValue("mainWindow/geometry", self.saveGeometry())
        state.setValue("mainWindow/state", self.saveState())
        state.sync()

    def _busy_changed(self, busy: bool) -> None:
        self.busy_label.setText(self.tr("working…") if busy else "")

    def _on_idle(self) -> None:
        if self._close_when_idle:
            self.close()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        runner = task_runner()
        if runner.must_finish() and not self._close_when_idle:
            event.ignore()
            self._ask_close_while_busy()
            return
        if runner.must_finish():
            event.ignore()  # still finishing after "stop and close": closes on idle
            return
        runner.cancel_all()  # look-ups still running are abandoned
        self.save_state()
        self.units_timer.stop()
        self.connections_timer.stop()
        event.accept()

    def _ask_close_while_busy(self) -> None:
        box = QMessageBox(self)
        box.setObjectName("closeWhileBusyDialog")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(self.tr("Work still running"))
        box.setText(self.tr("Certbench is still working ({count} task(s)).").format(count=len(task_runner().must_finish())))
        box.setInformativeText(self.tr("Closing now could leave an instrument half-provisioned. "
                                       "Stop the work and close when it has stopped, or keep working?"))
        stop = box.addButton(self.tr("Stop and close"), QMessageBox.ButtonRole.AcceptRole)
        box.addButton(self.tr("Keep working"), QMessageBox.ButtonRole.RejectRole)

        def decided(_result: int) -> None:
            if box.clickedButton() is stop:
                self._close_when_idle = True
                task_runner().cancel_all()
                self.statusBar().showMessage(self.tr("Stopping the running work; Certbench closes when it has stopped."))
                if not task_runner().must_finish():
                    self.close()

        box.finished.connect(decided)
        self.dialogs["close_while_busy"] = box
        box.open()

    def report(self, exc: BaseException) -> None:
        report_exception(exc, self)
