"""The technician wizard end to end against the IoT Central and Sectigo emulators and
simulated instruments: a keyboard-wedge burst provisions a unit, a mismatch blocks at
confirm, a cable pulled mid-way fails and "Resume" finishes it, Back is gone after the
commit point, keyboard-only operation, serial scanners, the demo label sheet."""

from __future__ import annotations

import socket
import threading

import pytest
from cryptography.hazmat.primitives import hashes
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit, QWizard

from certbench.core.demo import DemoServices
from certbench.core.http import RetryPolicy
from certbench.core.instrument.canonical import key_hash
from certbench.core.instrument.client import Instrument
from certbench.core.instrument.protocol import Store
from certbench.core.pki.sectigo.client import SectigoClient
from certbench.core.pki.sectigo.issuer import SectigoIssuer
from certbench.core.registry import UnitState
from certbench.core.workflows.unit_provisioning import STEPS
from certbench.core.workflows.unit_steps import ProvisionOptions
from certbench.gui.wizards import tech_bench
from certbench.gui.wizards.technician_wizard import (
    PAGE_CONFIRM,
    PAGE_PROVISION,
    PAGE_RESULT,
    PAGE_SCAN,
    TechnicianWizard,
)

WAIT = 30_000
FAST = ProvisionOptions(collect_poll_interval=0.02, collect_poll_max_interval=0.05, collect_limit_seconds=10)
FAST_RETRY = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02, max_retry_after=0.05)


@pytest.fixture
def demo(tmp_path):
    with DemoServices(tmp_path / "services", dps=False) as services:
        yield services


@pytest.fixture
def env(demo):
    client = SectigoClient.from_settings(demo.settings.sectigo, retry=FAST_RETRY)
    issuer = SectigoIssuer.from_settings(demo.settings, client=client, poll_interval=0.02, poll_max_interval=0.05)
    bench = demo.bench_env(operator="tech-tom", issuer=issuer)
    bench._owned.append(issuer)
    yield bench
    bench.close()


def gs1(demo, model, serial):
    return tech_bench.gs1_label(demo.settings, model, serial)


def open_wizard(qtbot, demo, env) -> TechnicianWizard:
    wizard = TechnicianWizard(demo.settings, demo=demo, env=env, operator="tech-tom", options=FAST)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitExposed(wizard)
    qtbot.waitUntil(lambda: not wizard.instrument_page.searching and bool(wizard.instrument_page.rows), timeout=WAIT)
    return wizard


def burst(qtbot, widget, text: str) -> None:
    """A keyboard-wedge scanner: the label's characters a few ms apart, then Enter."""
    for ch in text:
        if ch == "\x1d":  # FNC1: scanners type it as Ctrl+]
            QTest.sendKeyEvent(QTest.KeyAction.Click, widget, Qt.Key.Key_BracketRight, "\x1d",
                               Qt.KeyboardModifier.ControlModifier, 3)
        else:
            QTest.keyClick(widget, ch, Qt.KeyboardModifier.NoModifier, 3)
    QTest.keyClick(widget, Qt.Key.Key_Return, Qt.KeyboardModifier.NoModifier, 3)


def focus(wizard):
    return QApplication.focusWidget() if QApplication.focusWidget() is not None and \
        QApplication.focusWidget().window() is wizard else wizard


def to_confirm_ready(qtbot, wizard):
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_CONFIRM and not wizard.confirm_page.checking, timeout=WAIT)


def assert_installed(demo, env, port, cn):
    cert = env.registry.current_certificate(cn)
    assert cert is not None and cert.status == "installed"
    issued = env.issuer.collect(cert.intermediate, cert.order_id, wait=False)
    assert issued.certificate.fingerprint(hashes.SHA256()).hex() == cert.sha256
    with Instrument(demo.open_transport(port)) as inst:
        inst.hello()
        assert inst.hashes()[int(Store.KEY)] == key_hash(issued.certificate.public_key())
        inst.verify_possession(issued.certificate)


def test_a_scanner_burst_provisions_a_unit_end_to_end(qtbot, demo, env):
    port = demo.add_instrument("mx200", "MX2G0001")
    wizard = open_wizard(qtbot, demo, env)
    assert wizard.instrument_page.selected().port == port
    wizard.next()
    assert wizard.currentId() == PAGE_SCAN
    scans = []
    wizard.scan_received.connect(scans.append)
    label = gs1(demo, "mx200", "MX2G0001")
    burst(qtbot, focus(wizard), label)
    assert scans == [label]
    assert wizard.scan_page.typed.text() == ""  # the burst did not stay in the typed-entry field
    to_confirm_ready(qtbot, wizard)
    page = wizard.confirm_page
    assert page.isComplete(), page.verdict.text()
    assert page.scanned["cn"].text() == "mx200-mx2g0001"
    assert (page.reported["serial"].text(), page.reported["model"].text()) == ("MX2G0001", "MX200")
    commit = wizard.button(QWizard.WizardButton.CommitButton)
    assert commit.isVisible() and commit.isEnabled() and commit.text().replace("&", "") == "Provision"
    events = []
    wizard.provision_page.steps.itemChanged.connect(lambda item: events.append(item.text()))
    with qtbot.waitSignal(wizard.unit_finished, timeout=WAIT) as finished:
        wizard.next()
        assert wizard.currentId() == PAGE_PROVISION
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_RESULT, timeout=WAIT)
    outcome = finished.args[0]
    assert outcome.state == "done" and outcome.cn == "mx200-mx2g0001"
    steps = wizard.provision_page.steps
    assert {steps.state(s) for s in STEPS if s != "registration"} == {"done"}
    assert events  # ticked live
    bars = wizard.provision_page.transfer_bars
    assert len(bars) == 1 and bars[0].value() == bars[0].maximum() > 100
    result = wizard.result_page
    assert result.headline.text() == "Passed" and result.resume.isHidden()
    assert result.fields["fingerprint"].text().replace(":", "").lower() == outcome.certificate_sha256
    assert env.registry.get_unit("mx200-mx2g0001").state == UnitState.DONE
    assert_installed(demo, env, port, "mx200-mx2g0001")


def test_a_mismatch_blocks_at_confirm(qtbot, demo, env):
    demo.add_instrument("mx200", "MX2G0002")
    wizard = open_wizard(qtbot, demo, env)
    wizard.next()
    burst(qtbot, focus(wizard), gs1(demo, "mx200", "MX2G0099"))  # the label of a unit that is not here
    to_confirm_ready(qtbot, wizard)
    page = wizard.confirm_page
    assert not page.isComplete()
    assert not wizard.button(QWizard.WizardButton.CommitButton).isEnabled()
    assert page.verdict.state == "fail"
    assert "serial number differs" in page.verdict.text() and "MX2G0099" in page.verdict.text()
    assert (page.scanned["serial"].text(), page.reported["serial"].text()) == ("MX2G0099", "MX2G0002")
    QTest.keyClick(focus(wizard), Qt.Key.Key_Return)  # Enter does not get past it
    assert wizard.currentId() == PAGE_CONFIRM
    assert env.registry.find_unit("mx200-mx2g0099") is None  # nothing reserved


def test_a_model_mismatch_blocks_too(qtbot, demo, env):
    demo.add_instrument("mx200", "MX2G0003", reported_model="MX-300")
    wizard = open_wizard(qtbot, demo, env)
    wizard.next()
    burst(qtbot, focus(wizard), gs1(demo, "mx200", "MX2G0003"))
    to_confirm_ready(qtbot, wizard)
    assert not wizard.confirm_page.isComplete()
    assert "model differs" in wizard.confirm_page.verdict.text()


class _PullsCableAfterCollect:
    """The issuer, except that collecting a certificate pulls the instrument's cable at its
    next request (the first write of the credentials), on the worker thread, in step with
    the workflow."""

    def __init__(self, issuer, sim) -> None:
        self.issuer, self.sim, self.pulled = issuer, sim, False

    def __getattr__(self, name):
        return getattr(self.issuer, name)

    def collect(self, *args, **kwargs):
        issued = self.issuer.collect(*args, **kwargs)
        if not self.pulled:
            self.pulled = True
            self.sim.faults.disconnect_at = self.sim.stats.requests + 1
            self.sim.faults.disconnect_after_handling = True
        return issued


def test_cable_pulled_mid_way_shows_the_failure_and_resume_finishes(qtbot, demo, env):
    port = demo.add_instrument("mx300", "MX3G0001")  # workstation key: resume needs the same process's key
    env.issuer = _PullsCableAfterCollect(env.issuer, demo.instrument(port))
    wizard = open_wizard(qtbot, demo, env)
    wizard.next()
    burst(qtbot, focus(wizard), gs1(demo, "mx300", "MX3G0001"))
    to_confirm_ready(qtbot, wizard)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_RESULT, timeout=WAIT)
    result = wizard.result_page
    assert result.headline.text() == "Failed"
    assert env.issuer.pulled
    assert "instrument" in result.fields["reason"].text().lower()
    assert result.fields["action"].text()  # the hint: what to do
    states = {s: wizard.provision_page.steps.state(s) for s in STEPS}
    assert states["collect"] == "done" and states["stage"] == "failed"  # shown where it stopped
    assert result.resume.isVisible()
    assert not wizard.button(QWizard.WizardButton.BackButton).isEnabled()
    unit = env.registry.get_unit("mx300-mx3g0001")
    assert unit.state == UnitState.FAILED
    with qtbot.waitSignal(wizard.unit_finished, timeout=WAIT) as finished:
        QTest.mouseClick(result.resume, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_RESULT, timeout=WAIT)
    assert finished.args[0].state == "done" and finished.args[0].resumed
    assert result.headline.text() == "Passed"
    assert env.registry.get_unit("mx300-mx3g0001").state == UnitState.DONE
    assert_installed(demo, env, port, "mx300-mx3g0001")


def test_back_is_gone_after_the_commit_point(qtbot, demo, env):
    demo.add_instrument("mx200", "MX2G0004")
    wizard = open_wizard(qtbot, demo, env)
    back = wizard.button(QWizard.WizardButton.BackButton)
    wizard.next()
    assert back.isEnabled()  # before the commit point, Back is allowed
    burst(qtbot, focus(wizard), gs1(demo, "mx200", "MX2G0004"))
    to_confirm_ready(qtbot, wizard)
    assert wizard.confirm_page.isCommitPage() and back.isEnabled()
    wizard.next()
    assert wizard.currentId() == PAGE_PROVISION and not back.isEnabled()
    assert wizard.running
    wizard.reject()  # Cancel/Escape while the instrument is being written does nothing
    assert wizard.isVisible()
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_RESULT, timeout=WAIT)
    assert not back.isEnabled()
    wizard.back()
    assert wizard.currentId() == PAGE_RESULT


def test_keyboard_only_typed_entry_and_enter_through_to_the_next_unit(qtbot, demo, env):
    demo.add_instrument("mx200", "MX2G0005")
    demo.add_instrument("mx200", "MX2G0006")
    wizard = open_wizard(qtbot, demo, env)
    wizard.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is wizard.instrument_page.list, timeout=WAIT)
    QTest.keyClick(wizard.instrument_page.list, Qt.Key.Key_Down)  # the second instrument
    assert wizard.instrument_page.selected().serial == "MX2G0006"
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    # Waits, not bare asserts: on a loaded machine a page change may land a few events later.
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_SCAN and wizard.port == "sim:MX2G0006", timeout=WAIT)
    typed = wizard.scan_page.typed
    qtbot.waitUntil(lambda: QApplication.focusWidget() is typed, timeout=WAIT)
    # A person types (slowly: not a scanner burst) the plain serial number and presses Enter.
    QTest.keyClicks(typed, "MX2G0006", Qt.KeyboardModifier.NoModifier, 70)
    QTest.keyClick(typed, Qt.Key.Key_Return)
    assert wizard.currentId() == PAGE_SCAN  # a plain serial needs the product
    qtbot.waitUntil(lambda: wizard.scan_page.model.isVisible()
                    and QApplication.focusWidget() is wizard.scan_page.model, timeout=WAIT)
    QTest.keyClick(wizard.scan_page.model, Qt.Key.Key_Down)  # (from the label) -> the first product, mx200
    assert wizard.scan_page.chosen_model() == "mx200"
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    to_confirm_ready(qtbot, wizard)
    assert wizard.confirm_page.isComplete()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is wizard.button(QWizard.WizardButton.CommitButton),
                    timeout=WAIT)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_RESULT, timeout=WAIT)
    assert wizard.result_page.headline.text() == "Passed"
    qtbot.waitUntil(lambda: QApplication.focusWidget() is wizard.result_page.next_unit, timeout=WAIT)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)  # Next unit
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_SCAN and wizard.port == "sim:MX2G0006", timeout=WAIT)
    assert wizard.scan_page.typed.text() == "" and wizard.scan_page.result is None
    # Tab moves between the page's fields and the wizard's buttons without leaving the window.
    seen = set()
    for _ in range(8):
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        seen.add(QApplication.focusWidget())
    assert wizard.scan_page.typed in seen and wizard.button(QWizard.WizardButton.CancelButton) in seen


def test_one_scan_on_the_result_page_starts_the_next_unit_on_the_instrument_that_reports_it(qtbot, demo, env):
    demo.add_instrument("mx200", "MX2G0007")
    second = demo.add_instrument("mx300", "MX3G0007")
    wizard = open_wizard(qtbot, demo, env)
    wizard.next()
    burst(qtbot, focus(wizard), gs1(demo, "mx200", "MX2G0007"))
    to_confirm_ready(qtbot, wizard)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_RESULT, timeout=WAIT)
    assert wizard.result_page.headline.text() == "Passed"
    burst(qtbot, focus(wizard), gs1(demo, "mx300", "MX3G0007"))  # the other instrument's label
    to_confirm_ready(qtbot, wizard)
    assert wizard.port == second and wizard.confirm_page.isComplete()
    assert "Switched to" in wizard.scan_page.status.text()
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_RESULT, timeout=WAIT)
    assert wizard.result_page.headline.text() == "Passed" and wizard.units_done == 2
    assert env.registry.get_unit("mx300-mx3g0007").state == UnitState.DONE


def test_a_typing_person_is_not_a_scanner(qtbot, demo, env):
    demo.add_instrument("mx200", "MX2G0008")
    wizard = open_wizard(qtbot, demo, env)
    wizard.next()
    scans = []
    wizard.scan_received.connect(scans.append)
    typed = wizard.scan_page.typed
    typed.setFocus()
    QTest.keyClicks(typed, "MX2G", Qt.KeyboardModifier.NoModifier, 80)
    assert scans == [] and typed.text() == "MX2G"
    # A scan burst while something was half-typed: the scan is taken, the burst leaves the field.
    burst(qtbot, typed, gs1(demo, "mx200", "MX2G0008"))
    assert len(scans) == 1 and scans[0].endswith("21MX2G0008\x1d10DEMO1")
    assert typed.text() == ""  # cleared: the scan replaced the half-typed entry
    to_confirm_ready(qtbot, wizard)


def test_burst_with_prefix_and_suffix_from_settings(qtbot, demo, env):
    demo.settings.bench.scanner_prefix = "#"
    demo.settings.bench.scanner_suffix = "$"
    demo.add_instrument("mx200", "MX2G0009")
    wizard = open_wizard(qtbot, demo, env)
    wizard.next()
    scans = []
    wizard.scan_received.connect(scans.append)
    # Focus on a button, not a text field: the burst's keys must not reach it.
    button = wizard.button(QWizard.WizardButton.CancelButton)
    button.setFocus()
    burst(qtbot, button, "#" + gs1(demo, "mx200", "MX2G0009") + "$")
    assert scans == [gs1(demo, "mx200", "MX2G0009")]
    assert wizard.isVisible()
    to_confirm_ready(qtbot, wizard)
    # Without the configured framing a fast burst is typing, not a scan.
    wizard.back()
    burst(qtbot, focus(wizard), gs1(demo, "mx200", "MX2G0009"))
    assert len(scans) == 1


def test_the_scanner_filter_follows_the_focus_and_stays_in_its_window(qtbot, demo, env):
    """The wedge filter sits on the wizard and its focus widget (not on every event of the
    application, which made the GUI thread wait for the GIL on each paint): it follows the
    focus, and keys typed into another window are not the wizard's."""
    demo.add_instrument("mx200", "MX2G0011")
    wizard = open_wizard(qtbot, demo, env)
    wizard.next()
    typed = wizard.scan_page.typed
    typed.setFocus()
    qtbot.waitUntil(lambda: wizard.wedge.watched() is typed, timeout=WAIT)
    cancel = wizard.button(QWizard.WizardButton.CancelButton)
    cancel.setFocus()
    qtbot.waitUntil(lambda: wizard.wedge.watched() is cancel, timeout=WAIT)
    scans = []
    wizard.scan_received.connect(scans.append)
    other = QLineEdit()
    qtbot.addWidget(other)
    other.show()
    other.activateWindow()
    other.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is other, timeout=WAIT)
    burst(qtbot, other, gs1(demo, "mx200", "MX2G0011"))
    assert scans == [] and other.text().endswith("MX2G001110DEMO1")
    assert wizard.wedge.watched() is cancel
    wizard.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is cancel, timeout=WAIT)
    burst(qtbot, cancel, gs1(demo, "mx200", "MX2G0011"))
    assert scans == [gs1(demo, "mx200", "MX2G0011")]
    to_confirm_ready(qtbot, wizard)


def test_a_serial_scanner_on_a_com_port(qtbot, demo, env):
    """A USB-serial (CDC) scanner: here a TCP socket (pyserial's socket:// URL)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
    demo.settings.bench.scanner_port = f"socket://127.0.0.1:{server.getsockname()[1]}"
    demo.add_instrument("vx10", "VX1G0001")
    wizard = open_wizard(qtbot, demo, env)
    try:
        qtbot.waitUntil(lambda: bool(accepted), timeout=WAIT)
        wizard.next()
        with qtbot.waitSignal(wizard.scan_received, timeout=WAIT) as got:
            accepted[0].sendall((gs1(demo, "vx10", "VX1G0001") + "\r\n").encode("latin-1"))
        assert got.args[0] == gs1(demo, "vx10", "VX1G0001")
        to_confirm_ready(qtbot, wizard)
        assert wizard.confirm_page.scanned["cn"].text() == "vx10-vx1g0001"
    finally:
        wizard.close()
        qtbot.waitUntil(lambda: not wizard.serial_scanner.scanner.running, timeout=WAIT)
        for conn in accepted:
            conn.close()
        server.close()


def test_split_hibc_label_takes_two_scans(qtbot, demo, env):
    from certbench.core.naming.hibc import check_character

    demo.add_instrument("mx300", "MX3G0010")
    wizard = open_wizard(qtbot, demo, env)
    wizard.next()
    primary = "+MDCPMX3000"
    primary += check_character(primary)
    secondary = "+$$+7MX3G0010" + primary[-1]  # link character: the primary's check character
    secondary += check_character(secondary)
    burst(qtbot, focus(wizard), primary)
    assert wizard.currentId() == PAGE_SCAN and "second barcode" in wizard.scan_page.prompt.text()
    burst(qtbot, focus(wizard), secondary)
    to_confirm_ready(qtbot, wizard)
    assert wizard.confirm_page.isComplete() and wizard.scan.kind == "hibc" and wizard.model == "mx300"


def test_demo_bench_dashboard_lists_the_simulated_instruments_and_a_demo_label_provisions(qtbot, tmp_path):
    """`gui --demo` as the application wires it: the main window on DemoServices, four
    simulated instruments on the dashboard, the wizard from the toolbar action, and the demo
    label sheet's Scan button typing a label like a keyboard-wedge scanner."""
    from certbench.gui.app import DEMO_VERIFIED_AT_START
    from certbench.gui.main_window import MainWindow

    with DemoServices(tmp_path / "services", dps=False, verify=DEMO_VERIFIED_AT_START) as services:
        window = MainWindow(services.settings, demo=True, demo_services=services)
        qtbot.addWidget(window)
        try:
            window.show()
            with qtbot.waitSignal(window.refreshed, timeout=WAIT):
                window.start()
            table = window.instruments.table
            assert table.rowCount() == 4
            shown = {(table.item(r, 0).text(), table.item(r, 2).text()) for r in range(4)}
            assert shown == {(f"sim:{serial}", serial) for _model, serial in tech_bench.DEMO_INSTRUMENTS}
            action = window.actions_by_name["technician_wizard"]
            assert action.isEnabled() and action.isVisible()
            action.trigger()
            wizard = window.dialogs["technician_wizard"]
            qtbot.waitUntil(lambda: len(wizard.instrument_page.rows) == 4, timeout=WAIT)
            wizard.next()
            assert wizard.scan_page.demo_labels.isVisible()
            QTest.mouseClick(wizard.scan_page.demo_labels, Qt.MouseButton.LeftButton)
            sheet = wizard.demo_labels_dialog
            assert sheet.isVisible() and len(sheet.buttons) == 5  # four on the bench + one that is not
            with qtbot.waitSignal(wizard.scan_received, timeout=WAIT):
                QTest.mouseClick(sheet.buttons["MX2D0001"], Qt.MouseButton.LeftButton)
            to_confirm_ready(qtbot, wizard)
            assert wizard.port == "sim:MX2D0001" and wizard.confirm_page.isComplete()
            with qtbot.waitSignal(wizard.unit_finished, timeout=WAIT):
                wizard.next()
            qtbot.waitUntil(lambda: wizard.currentId() == PAGE_RESULT, timeout=WAIT)
            assert wizard.result_page.headline.text() == "Passed"
            # vx10's intermediate is left for the administrator wizard: refused before anything is ordered.
            wizard.next_unit()
            with qtbot.waitSignal(wizard.scan_received, timeout=WAIT):
                QTest.mouseClick(sheet.buttons["VX1D0001"], Qt.MouseButton.LeftButton)
            to_confirm_ready(qtbot, wizard)
            assert wizard.port == "sim:VX1D0001"
            wizard.next()
            qtbot.waitUntil(lambda: wizard.currentId() == PAGE_RESULT, timeout=WAIT)
            result = wizard.result_page
            assert result.headline.text() == "Failed" and result.resume.isHidden()
            assert "verif" in result.fields["reason"].text() and result.fields["action"].text()
            sheet.close()
            wizard.close()
        finally:
            window.close()
            qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT)
            tech_bench.close_shared_envs()
