"""History: finds units by serial, CN and state with paging, shows a unit's audit trail,
exports CSV, verifies the audit trail (OK, then the broken row after tampering), and
re-provisions / decommissions through the unit workflows."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import text

from certbench.core.config import default_settings
from certbench.core.demo import DemoServices
from certbench.core.history import AUDIT_CSV_COLUMNS, UNIT_CSV_COLUMNS
from certbench.core.registry import Actor, UnitState, open_registry
from certbench.gui.history_window import PAGE_SIZE, HistoryWindow
from certbench.gui.main_window import MainWindow

WAIT = 20_000
UNITS = PAGE_SIZE + 5


@pytest.fixture
def filled():
    tech, other = Actor("tech-tom", "BENCH-01"), Actor("tech-una", "BENCH-02")
    with open_registry(None) as registry:
        for n in range(1, UNITS + 1):
            unit = registry.reserve(f"SN{n:04d}", "mx200" if n % 2 else "lx5", None,
                                    f"{'mx200' if n % 2 else 'lx5'}-sn{n:04d}", actor=tech if n < 50 else other)
            if n == 7:
                registry.transition(unit, UnitState.KEY_READY, actor=tech, key_origin="device")
                registry.fail(registry.get_unit(unit.id), "instrument stopped answering", actor=tech)
    return default_settings()


def _window(qtbot, settings) -> HistoryWindow:
    window = HistoryWindow(settings)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.searched, timeout=WAIT):
        window.show()  # the first search runs when it opens
    return window


def _search(qtbot, window, **filters):
    for key in ("serial", "cn", "model", "operator"):
        window.filters[key].setText(filters.get(key, ""))
    state = filters.get("state", "")
    window.state_filter.setCurrentIndex(window.state_filter.findData(state))
    with qtbot.waitSignal(window.searched, timeout=WAIT):
        window.search_button.click()
    return window.found_serials()


def test_finds_units_by_serial_cn_state_operator_with_paging(qtbot, filled):
    window = _window(qtbot, filled)
    assert window.result.total == UNITS and len(window.found_serials()) == PAGE_SIZE
    assert window.page_label.text() == "page 1 of 2" and window.next_button.isEnabled()
    assert not window.prev_button.isEnabled()
    with qtbot.waitSignal(window.searched, timeout=WAIT):
        window.next_button.click()
    assert len(window.found_serials()) == UNITS - PAGE_SIZE and window.page_label.text() == "page 2 of 2"

    assert _search(qtbot, window, serial="sn0012") == ["SN0012"]
    assert _search(qtbot, window, cn="lx5-sn001") == ["SN0018", "SN0016", "SN0014", "SN0012", "SN0010"]
    assert _search(qtbot, window, state="failed") == ["SN0007"]
    assert "instrument stopped answering" in window.table.item(0, 3).toolTip()
    assert sorted(_search(qtbot, window, operator="una")) == [f"SN{n:04d}" for n in range(50, UNITS + 1)]
    assert _search(qtbot, window, serial="SN9999") == [] and "0 unit(s)" in window.search_status.text()
    window.since_check.setChecked(True)
    window.until_check.setChecked(True)
    window.since.setDate(window.until.date().addDays(1))
    _search(qtbot, window)
    assert window.search_status.state == "fail" and "Swap the two dates" in window.search_status.text()


def test_shows_a_units_audit_trail(qtbot, filled):
    window = _window(qtbot, filled)
    _search(qtbot, window, serial="SN0007")
    with qtbot.waitSignal(window.trail_loaded, timeout=WAIT):
        window.table.selectRow(0)
    events = [window.events.item(r, 2).text() for r in range(window.events.rowCount())]
    with open_registry(None) as registry:
        expected = [e.event for e in registry.unit_events("mx200-sn0007")]
    assert events == expected and events[-1] == "unit.failed" and len(events) == 4
    assert window.events.item(3, 3).text() == "tech-tom" and window.events.item(3, 4).text() == "BENCH-01"
    assert "instrument stopped answering" in window.events.item(3, 6).text()
    summary = window.unit_summary.text()
    assert "mx200-sn0007" in summary and "failed" in summary and "Retry resumes" in summary
    assert not window.reprovision_button.isEnabled() and window.decommission_button.isEnabled()


def test_exports_csv(qtbot, filled, tmp_path):
    window = _window(qtbot, filled)
    _search(qtbot, window, model="lx5", operator="una")
    path = tmp_path / "units.csv"
    with qtbot.waitSignal(window.exported, timeout=WAIT) as done:
        window.export("units", str(path))
    rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    expected = sorted(f"SN{n:04d}" for n in range(50, UNITS + 1) if n % 2 == 0)
    assert done.args[0] == len(rows) == len(expected)
    assert sorted(r["serial"] for r in rows) == expected
    assert tuple(rows[0]) == UNIT_CSV_COLUMNS and {r["operator"] for r in rows} == {"tech-una"}
    assert str(path) in window.export_status.text()

    audit = tmp_path / "audit.csv"
    with qtbot.waitSignal(window.exported, timeout=WAIT) as done:
        window.export("audit", str(audit))
    lines = list(csv.reader(audit.open(encoding="utf-8", newline="")))
    assert tuple(lines[0]) == AUDIT_CSV_COLUMNS and done.args[0] == len(lines) - 1 >= UNITS
    assert [int(r[0]) for r in lines[1:]] == list(range(1, len(lines)))


def test_verify_audit_trail_ok_then_broken_row(qtbot, filled):
    window = _window(qtbot, filled)
    with qtbot.waitSignal(window.audit_checked, timeout=WAIT) as checked:
        window.verify_button.click()
    assert checked.args[0].ok and window.audit_status.state == "ok"
    assert "intact" in window.audit_status.text() and checked.args[0].head_hash in window.audit_status.text()

    with open_registry(None) as registry, registry.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_update")
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 9"))
    with qtbot.waitSignal(window.audit_checked, timeout=WAIT) as checked:
        window.verify_button.click()
    shown = window.audit_status.text()
    assert not checked.args[0].ok and window.audit_status.state == "fail"
    assert "BROKEN at row #9" in shown and "edited" in shown and "actor=mallory" in shown
    assert "8 row(s) before it are intact" in shown


def test_decommission_then_reprovision_through_the_workflows(qtbot, tmp_path):
    with DemoServices(tmp_path / "services", dps=False, verify=("medicorp-ica-1",)) as demo:
        with open_registry(None) as registry:
            registry.reserve("MX2A0001", "mx200", None, "mx200-mx2a0001", actor=Actor("tech-tom", "BENCH-01"))
        window = _window(qtbot, demo.settings)
        _search(qtbot, window, serial="MX2A0001")
        with qtbot.waitSignal(window.trail_loaded, timeout=WAIT):
            window.table.selectRow(0)
        window.ask_decommission()
        dialog = window.dialogs["reason"]
        ok = dialog.buttons.buttons()[0]
        assert not ok.isEnabled()  # a reason is required
        dialog.reason.setText("returned by customer")
        dialog.device_action.setCurrentIndex(dialog.device_action.findData("keep"))
        with qtbot.waitSignal(window.unit_changed, timeout=WAIT) as changed:
            dialog.accept()
        assert changed.args[0]["state"] == "rolled_back"
        qtbot.waitUntil(lambda: window.trail and window.trail.unit.state == UnitState.ROLLED_BACK, timeout=WAIT)
        qtbot.waitUntil(window.reprovision_button.isEnabled, timeout=WAIT)
        assert "unit.decommissioned" in [window.events.item(r, 2).text() for r in range(window.events.rowCount())]

        window.ask_reprovision()
        dialog = window.dialogs["reason"]
        dialog.reason.setText("board swapped")
        with qtbot.waitSignal(window.unit_changed, timeout=WAIT):
            dialog.accept()
        qtbot.waitUntil(lambda: window.trail.unit.generation == 2, timeout=WAIT)
        assert window.trail.unit.state == UnitState.CN_RESERVED and window.action_status.state == "ok"


def test_main_window_opens_history_and_admin_wizard_behind_the_role(qtbot):
    window = MainWindow(default_settings())
    qtbot.addWidget(window)
    window.show()
    window.actions_by_name["history"].trigger()
    history = window.dialogs["history"]
    qtbot.waitUntil(lambda: history.result is not None, timeout=WAIT)
    assert history.isVisible() and history.result.total == 0
    assert not window.actions_by_name["admin_wizard"].isVisible()
    window.open_admin_wizard()
    assert "admin_wizard" not in window.dialogs  # locked: nothing opens
    window.role.unlock()
    window.actions_by_name["admin_wizard"].trigger()
    wizard = window.dialogs["admin_wizard"]
    assert wizard.isVisible()
    window.role.lock()
    assert not wizard.isVisible()
