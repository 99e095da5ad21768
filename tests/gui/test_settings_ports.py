"""The Ports group of Settings' Bench tab: instrument ports, USB ids and line speed persist,
bad values are explained at their field, Detect lists this PC's serial ports off the GUI
thread; and the technician wizard looks for instruments only on the configured ports."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from certbench.core.config import default_settings, load_settings
from certbench.core.emulators.instrument import SimulatedInstrument
from certbench.core.instrument.ports import PortInfo, list_ports
from certbench.gui.settings_dialog import SettingsDialog
from settings_helpers import settle, type_into
from certbench.gui.wizards import tech_bench
from certbench.gui.wizards.technician_wizard import TechnicianWizard

WAIT = 30_000




def test_ports_usb_ids_and_baud_persist(qtbot, dialog):
    assert dialog.fields["bench.instrument_ports"].text() == ""
    assert dialog.fields["bench.instrument_baud"].currentData() == 115200
    type_into(dialog, "bench.instrument_ports", " socket://127.0.0.1:5555 ,COM3, ")
    type_into(dialog, "bench.instrument_usb_ids", "0403:6001, 10C4:EA60")
    baud = dialog.fields["bench.instrument_baud"]
    baud.setCurrentIndex(baud.findData(57600))
    assert dialog.validate() and dialog.save_button.isEnabled()
    with qtbot.waitSignal(dialog.saved, timeout=10_000) as saved:
        dialog.save()
    assert saved.args[0].bench.instrument_baud == 57600

    bench = load_settings().bench
    assert bench.instrument_ports == ["socket://127.0.0.1:5555", "COM3"]
    assert bench.instrument_usb_ids == ["0403:6001", "10C4:EA60"]
    assert bench.instrument_baud == 57600

    again = SettingsDialog(load_settings())
    qtbot.addWidget(again)
    settle(qtbot)
    assert again.fields["bench.instrument_ports"].text() == "socket://127.0.0.1:5555, COM3"
    assert again.fields["bench.instrument_usb_ids"].text() == "0403:6001, 10C4:EA60"
    assert again.fields["bench.instrument_baud"].currentText() == "57600"


def test_bad_port_values_are_explained_at_their_field_and_block_save(qtbot, dialog):
    type_into(dialog, "bench.instrument_usb_ids", "403:6001")
    assert "'403:6001' is not a USB vendor:product id" in dialog.error_text("bench.instrument_usb_ids")
    assert not dialog.save_button.isEnabled()
    type_into(dialog, "bench.instrument_usb_ids", "0403:6001")
    assert dialog.error_text("bench.instrument_usb_ids") == ""
    assert dialog.save_button.isEnabled()

    type_into(dialog, "bench.instrument_ports", "COM3 COM4")
    assert "'COM3 COM4' is not a port name" in dialog.error_text("bench.instrument_ports")
    assert not dialog.save_button.isEnabled()
    type_into(dialog, "bench.instrument_ports", "socket://127.0.0.1")
    assert "lacks the host and port number" in dialog.error_text("bench.instrument_ports")
    type_into(dialog, "bench.instrument_ports", "COM3, COM4")
    assert dialog.error_text("bench.instrument_ports") == ""
    assert dialog.save_button.isEnabled()


def test_detect_lists_this_pcs_serial_ports_and_adds_the_chosen_one(qtbot, dialog):
    dialog.tabs.setCurrentIndex(4)
    qtbot.mouseClick(dialog.detect_button, Qt.MouseButton.LeftButton)
    assert not dialog.detect_button.isEnabled()  # the listing runs on the task runner
    qtbot.waitUntil(lambda: dialog.detect_button.isEnabled(), timeout=10_000)
    expected = [p.device for p in list_ports()]
    assert dialog.detected() == expected
    assert dialog.detect_status.state == ("ok" if expected else "warning")
    assert not dialog.detect_status.isHidden()

    # What a USB adapter looks like in the list, and a double-click (activation) adds it.
    type_into(dialog, "bench.instrument_ports", "COM3")
    dialog._ports_detected([PortInfo("COM7", "USB Serial Port", 0x0403, 0x6001, "A10K", "FTDI", "1-1")])
    item = dialog.detected_ports.item(0)
    assert item.text() == "COM7 — USB Serial Port, 0403:6001"
    dialog.detected_ports.itemActivated.emit(item)
    dialog.detected_ports.itemActivated.emit(item)  # twice: listed once
    assert dialog.fields["bench.instrument_ports"].text() == "COM3, COM7"
    dialog.validate()
    assert dialog.collect().bench.instrument_ports == ["COM3", "COM7"]


@pytest.fixture
def sims(tmp_path):
    a = SimulatedInstrument(model="MC-100", serial="LISTED-1", store_dir=tmp_path / "a")
    b = SimulatedInstrument(model="MC-100", serial="UNLISTED-2", store_dir=tmp_path / "b")
    yield (a, a.serve_tcp()), (b, b.serve_tcp())
    a.close()
    b.close()


def test_the_technician_wizard_looks_only_on_the_configured_ports(qtbot, sims):
    (_a, url_a), (_b, _url_b) = sims
    settings = default_settings()
    settings.bench.instrument_ports = [url_a]
    settings.bench.instrument_baud = 57600
    wizard = TechnicianWizard(settings, operator="tech-tom")
    qtbot.addWidget(wizard)
    try:
        wizard.show()
        qtbot.waitExposed(wizard)
        page = wizard.instrument_page
        qtbot.waitUntil(lambda: page._searched and not page.searching, timeout=WAIT)
        assert [(r.port, r.serial) for r in page.rows] == [(url_a, "LISTED-1")]
        assert wizard.bench_env().baud == 57600
    finally:
        wizard.close()
        settle(qtbot)
        tech_bench.close_shared_envs()
