"""The main window: demo mode unmistakable, the dashboard filled off the GUI thread, the
administrator functions hidden until unlocked, settings problems explained, state remembered."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtWidgets import QMessageBox

from certbench.core import roles
from certbench.core.config import default_settings, user_config_file
from certbench.core.demo import DEMO_ADMIN_PASSWORD
from certbench.core.registry import Actor, open_registry
from certbench.gui.admin import SetPasswordDialog, UnlockDialog
from certbench.gui.app import build_main_window, create_application, parse_args
from certbench.gui.main_window import ADMIN_ACTIONS, MainWindow
from certbench.gui.tasks import Task, task_runner
from certbench.gui.ui_state import ui_settings
from certbench.gui.widgets.banner import DemoBanner

ADMIN_PASSWORD = "bench-admin-2026"


def _window(qtbot, *, demo=False, settings=None, problem=None) -> MainWindow:
    window = MainWindow(settings or default_settings(), demo=demo, settings_problem=problem)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.refreshed, timeout=20_000):
        window.start()
    return window


def _settle(qtbot):
    qtbot.waitUntil(lambda: not task_runner().busy, timeout=20_000)


def test_demo_mode_is_unmistakable(qtbot):
    window = _window(qtbot, demo=True)
    assert "DEMO" in window.windowTitle()
    banners = window.findChildren(DemoBanner)
    assert len(banners) == 1 and banners[0].isVisible()
    assert "DEMO MODE" in banners[0].text()
    assert window.services.demo_label is not None and window.services.demo_label.isVisible()


def test_production_window_has_no_demo_banner(qtbot):
    window = _window(qtbot)
    assert "DEMO" not in window.windowTitle()
    assert window.findChildren(DemoBanner) == []
    assert window.services.demo_label is None


def test_dashboard_shows_intermediates_units_and_services(qtbot):
    registry = open_registry(None)
    actor = Actor("tech1", "bench-1")
    first = registry.reserve("SN1", "mx200", None, "mx200-sn1", actor=actor)
    registry.reserve("SN2", "mx200", None, "mx200-sn2", actor=actor)
    registry.fail(registry.reserve("SN3", "mx300", None, "mx300-sn3", actor=actor), "cable pulled", actor=actor)
    registry.close()
    assert first.state.value == "cn_reserved"

    window = _window(qtbot, demo=True)  # demo creates the local CA, so expiry dates are known
    _settle(qtbot)
    with qtbot.waitSignal(window.refreshed, timeout=20_000):
        window.refresh()
    table = window.intermediates.table
    assert table.rowCount() == 4
    assert table.item(0, 0).text() == "MediCorp Device Issuing CA 1"
    assert table.item(0, 2).text() == "medicorp-devices-1 / primary"
    assert table.item(0, 3).text()[:2] == "20"  # an expiry date
    assert table.item(0, 4).text() == "not checked"
    counts = window.units.counts
    assert (counts.done, counts.failed, counts.in_progress) == (0, 1, 2)
    assert "not configured" in window.services.status["iotcentral"].text()
    assert window.instruments.stack.currentWidget() is window.instruments.empty
    assert window.instruments.empty.text()


def test_admin_actions_hidden_until_first_password_is_set(qtbot):
    window = _window(qtbot)
    assert window.admin_actions_visible() == []
    assert window.actions_by_name["unlock"].isVisible()
    window.request_unlock()
    qtbot.waitUntil(lambda: "password_dialog" in window.dialogs, timeout=10_000)
    dialog: SetPasswordDialog = window.dialogs["password_dialog"]
    assert dialog.isVisible()
    dialog.password.setText("short")
    dialog.repeat.setText("short")
    dialog._save()
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=10_000)
    assert "at least" in dialog.error.text()
    assert window.admin_actions_visible() == []
    dialog.password.setText(ADMIN_PASSWORD)
    dialog.repeat.setText(ADMIN_PASSWORD)
    with qtbot.waitSignal(window.role.changed, timeout=10_000):
        dialog._save()
    assert window.admin_actions_visible() == list(ADMIN_ACTIONS)
    assert not window.actions_by_name["unlock"].isVisible()
    assert window.role_label.text() == "Administrator"
    window.actions_by_name["lock"].trigger()
    assert window.admin_actions_visible() == []


def test_unlock_refuses_a_wrong_password_and_accepts_the_right_one(qtbot):
    roles.set_admin_password(ADMIN_PASSWORD)
    window = _window(qtbot)
    window.request_unlock()
    qtbot.waitUntil(lambda: "unlock_dialog" in window.dialogs, timeout=10_000)
    dialog: UnlockDialog = window.dialogs["unlock_dialog"]
    assert dialog.findChild(type(dialog.error), "demoPasswordNote") is None
    dialog.password.setText("wrong-password")
    dialog._check()
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=10_000)
    assert "not the administrator password" in dialog.error.text()
    assert window.admin_actions_visible() == []
    dialog.password.setText(ADMIN_PASSWORD)
    with qtbot.waitSignal(window.role.changed, timeout=10_000):
        dialog._check()
    assert "settings" in window.admin_actions_visible()


def test_demo_unlock_says_and_takes_the_demo_password(qtbot):
    window = _window(qtbot, demo=True)
    _settle(qtbot)
    window.request_unlock()
    qtbot.waitUntil(lambda: "unlock_dialog" in window.dialogs, timeout=10_000)
    dialog: UnlockDialog = window.dialogs["unlock_dialog"]
    note = dialog.findChild(type(dialog.error), "demoPasswordNote")
    assert note is not None and "“demo”" in note.text()
    dialog.password.setText(DEMO_ADMIN_PASSWORD)
    with qtbot.waitSignal(window.role.changed, timeout=10_000):
        dialog._check()
    assert window.role.admin


def test_settings_need_the_administrator(qtbot):
    roles.set_admin_password(ADMIN_PASSWORD)
    window = _window(qtbot)
    window.open_settings()
    qtbot.waitUntil(lambda: "unlock_dialog" in window.dialogs, timeout=10_000)
    assert "settings" not in window.dialogs
    dialog = window.dialogs["unlock_dialog"]
    dialog.password.setText(ADMIN_PASSWORD)
    dialog._check()
    qtbot.waitUntil(lambda: "settings" in window.dialogs, timeout=10_000)
    assert window.dialogs["settings"].isVisible()
    window.actions_by_name["lock"].trigger()
    assert not window.dialogs["settings"].isVisible()


def test_invalid_settings_file_names_the_key_and_leads_to_settings(qtbot):
    user_config_file().write_text('[[products]]\nmodel = "mx200"\nintermediate = "medicorp-ica-1"\n'
                                  'key_source = "usb-stick"\n', encoding="utf-8")
    create_application([])
    window = build_main_window(False)
    qtbot.addWidget(window)
    assert window.settings_problem is not None
    assert window.settings.products  # runs on the defaults meanwhile
    window.show()
    window.start()
    qtbot.waitUntil(lambda: "settings_problem" in window.dialogs, timeout=10_000)
    box: QMessageBox = window.dialogs["settings_problem"]
    assert "products[0].key_source" in box.text()
    assert "usb-stick" in box.informativeText()
    roles.set_admin_password(ADMIN_PASSWORD)
    box.done(0)
    qtbot.waitUntil(lambda: "unlock_dialog" in window.dialogs, timeout=10_000)
    window.dialogs["unlock_dialog"].password.setText(ADMIN_PASSWORD)
    window.dialogs["unlock_dialog"]._check()
    qtbot.waitUntil(lambda: "settings" in window.dialogs, timeout=10_000)
    settings_dialog = window.dialogs["settings"]
    assert "settings file has a problem" in settings_dialog.problem_banner.text()
    assert settings_dialog.tabs.currentIndex() == 2  # products and intermediates
    with qtbot.waitSignal(settings_dialog.saved, timeout=10_000):
        settings_dialog.save()
    assert user_config_file().with_name("certbench.toml.broken").is_file()
    assert window.settings_problem is None


def test_close_is_refused_while_work_runs_then_stops_and_closes(qtbot):
    window = _window(qtbot)
    started = threading.Event()

    def work(ctl):
        started.set()
        while True:
            ctl.check_cancelled()
            threading.Event().wait(0.01)

    Task(window, work, name="long").start()
    assert started.wait(5)
    assert not window.close()
    assert window.isVisible()
    box: QMessageBox = window.dialogs["close_while_busy"]
    stop = next(b for b in box.buttons() if b.text() == "Stop and close")
    stop.click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert not task_runner().busy


def test_geometry_is_remembered_in_the_certbench_home(qtbot, certbench_home):
    window = _window(qtbot)
    window.resize(720, 520)
    window.close()
    assert (certbench_home / "config" / "gui-state.ini").is_file()
    assert ui_settings().value("mainWindow/geometry") is not None
    again = MainWindow(default_settings())
    qtbot.addWidget(again)
    assert (again.width(), again.height()) == (720, 520)


def test_parse_args_keeps_qt_options():
    args = parse_args(["--demo", "-platform", "offscreen"])
    assert args.demo and args.qt_args == ["-platform", "offscreen"]
    assert not parse_args([]).demo


@pytest.mark.parametrize("name", ["app", "ok", "fail", "pending", "instrument", "ca", "warning"])
def test_icons_load(qtbot, name):
    from certbench.gui.resources import icon

    assert not icon(name).pixmap(32, 32).isNull()


def test_the_demo_application_starts_and_exits_cleanly(tmp_path):
    """The real entry point in its own process: demo home, logging, hook, window, first
    refresh, clean exit; the throw-away home is gone afterwards."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TMPDIR": str(tmp_path)}
    env.pop("CERTBENCH_HOME", None)
    done = subprocess.run(
        [sys.executable, "-m", "certbench.gui.app", "--demo", "--exit-after", "0"],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "refreshed" in done.stdout
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.glob("certbench-demo-*"))


def test_look_ups_do_not_hold_the_window_open(qtbot):
    window = _window(qtbot)
    gate = threading.Event()
    Task(window, lambda _ctl: gate.wait(10), name="look-up", keeps_open=False).start()
    assert task_runner().busy and task_runner().must_finish() == []
    assert window.close()
    assert "close_while_busy" not in window.dialogs
    gate.set()


def test_connections_are_tested_when_the_dashboard_loads(qtbot, tmp_path):
    """The Connections row says whether each configured service answers (tested on the task
    runner as part of the refresh), not just how it is configured; a service that does not
    answer shows "failed" with the reason, and the hint in the tooltip."""
    import copy

    from certbench.core.demo import DemoServices, free_loopback_address

    with DemoServices(tmp_path / "services", dps=False, verify=False) as services:
        window = MainWindow(services.settings, demo=True, demo_services=services)
        qtbot.addWidget(window)
        window.show()
        with qtbot.waitSignal(window.refreshed, timeout=30_000):
            window.start()
        status = window.services.status
        for service in ("iotcentral", "sectigo", "registry"):
            assert status[service].state == "ok", status[service].text()
            assert status[service].text().endswith(": connected")
        assert "enrollment group" in status["iotcentral"].toolTip()

        settings = copy.deepcopy(services.settings)
        settings.iotcentral.base_url = "https://" + free_loopback_address()  # nobody listens there
        window.settings = settings
        with qtbot.waitSignal(window.refreshed, timeout=30_000):
            window.refresh()
        assert status["iotcentral"].state == "fail"
        assert status["iotcentral"].text().startswith("IoT Central: failed. ")
        assert status["sectigo"].state == "ok"
        window.close()


def test_history_and_wizard_windows_come_back_at_their_last_size(qtbot):
    from PySide6.QtCore import QSize
    from PySide6.QtWidgets import QWidget

    from certbench.gui.history_window import HistoryWindow
    from certbench.gui.ui_state import restore_geometry, save_geometry

    history = HistoryWindow(default_settings())
    qtbot.addWidget(history)
    history.show()
    history.resize(760, 560)
    history.close()
    again = HistoryWindow(default_settings())
    qtbot.addWidget(again)
    assert again.size() == QSize(760, 560)

    # Technician wizards (several open at once) take the size only.
    first = QWidget()
    qtbot.addWidget(first)
    first.resize(700, 500)
    save_geometry(first, "someWizard")
    second = QWidget()
    qtbot.addWidget(second)
    assert restore_geometry(second, "someWizard", position=False)
    assert second.size() == QSize(700, 500)
    assert not restore_geometry(second, "neverSaved", position=False)
