"""`certbench unit ...` against the emulators (settings written by DemoServices into the test's
home) and a simulated instrument reached as a pyserial socket:// port."""

from __future__ import annotations

import io
import json
import sys

import pytest
from unit_fixtures import demo, orders_for  # noqa: F401 - fixtures

from certbench.core.cli import main
from certbench.core.emulators.instrument.simulator import SimulatedInstrument
from certbench.core.registry import open_registry


@pytest.fixture
def tcp_sim(demo):
    sims = []

    def make(serial: str, model: str = "MX200", **options) -> tuple[SimulatedInstrument, str]:
        sim = SimulatedInstrument(model=model, serial=serial, store_dir=demo.folder / "tcp", **options)
        sims.append(sim)
        return sim, sim.serve_tcp()

    yield make
    for sim in sims:
        sim.close()


class Result:
    def __init__(self, code, out, err):
        self.exit_code, self.output = code, out + err


@pytest.fixture
def run(capsys, monkeypatch):
    def invoke(*args: str, input: str | None = None) -> Result:
        if input is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(input))
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
        out, err = capsys.readouterr()
        return Result(exit_info.value.code or 0, out, err)

    return invoke


def test_provision_then_decommission_from_the_command_line(demo, tcp_sim, run):
    _, port = tcp_sim("MX2L0001")
    result = run("unit", "provision", "--port", port, "--scan", "MX2L0001", "--model", "mx200", "--operator", "alice",
                 "--json")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.output[result.output.index("{"):])
    assert (outcome["cn"], outcome["state"], outcome["key_origin"]) == ("mx200-mx2l0001", "done", "device")
    registry = open_registry(None)
    try:
        assert registry.get_unit("mx200-mx2l0001").operator == "alice"
    finally:
        registry.close()

    result = run("unit", "decommission", "mx200-mx2l0001", "--reason", "scrapped", "--port", port, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    assert summary["state"] == "revoked" and summary["wiped"] is True
    assert orders_for(demo, "mx200-mx2l0001")[0].status == "REVOKED"


def test_scan_mismatch_exits_with_the_input_error_code(demo, tcp_sim, run):
    _, port = tcp_sim("MX2L0002")
    result = run("unit", "provision", "--port", port, "--scan", "MX2L9999", "--model", "mx200")
    assert result.exit_code == 3
    assert "MX2L9999" in result.output and "MX2L0002" in result.output
    assert "unit resume" not in result.output  # nothing was reserved, so nothing to resume


def test_scans_from_standard_input_one_unit_after_another(demo, tcp_sim, run):
    _, port = tcp_sim("MX2L0003")
    # the second line is a unit that is not on the port: reported, and the run goes on
    result = run("unit", "provision", "--port", port, "--model", "mx200", input="MX2L0003\nMX2L0004\n")
    assert result.exit_code == 1
    assert "mx200-mx2l0003: done" in result.output
    assert "MX2L0004" in result.output


def test_resume_and_reprovision_from_the_command_line(demo, tcp_sim, run):
    sim, port = tcp_sim("MX2L0005")
    demo.sectigo.app.faults.add("503", 1000, path=r"/collect/")
    result = run("unit", "provision", "--port", port, "--scan", "MX2L0005", "--model", "mx200")
    assert result.exit_code == 5
    # the unit is saved as failed: the technician is told how to carry on
    assert f"unit resume mx200-mx2l0005 --port {port}" in " ".join(result.output.split())
    demo.sectigo.app.faults.clear()
    result = run("unit", "resume", "mx200-mx2l0005", "--port", port)
    assert result.exit_code == 0, result.output
    assert "resumed" in result.output
    result = run("unit", "reprovision", "mx200-mx2l0005", "--reason", "renewal", "--port", port, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output[result.output.index("{"):])["generation"] == 2
    assert [o.status for o in orders_for(demo, "mx200-mx2l0005")] == ["REVOKED", "ISSUED"]


def test_scans_from_a_serial_scanner_until_it_is_unplugged(demo, tcp_sim, run):
    import socket
    import threading

    _, port = tcp_sim("MX2L0006")
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)

    def scanner_device() -> None:  # a USB-serial barcode scanner, seen through pyserial's socket://
        conn, _ = server.accept()
        with conn:
            # Opening a port flushes what is already waiting in it (pyserial does, on COM ports
            # too): the technician scans once Certbench is listening, not in the same instant.
            threading.Event().wait(1.0)
            conn.sendall(b"MX2L0006\r")
            # the unit is provisioned before the scanner is unplugged
            registry = open_registry(None)
            try:
                for _ in range(300):
                    unit = registry.find_unit("mx200-mx2l0006")
                    if unit is not None and unit.state.value == "done":
                        break
                    threading.Event().wait(0.05)
            finally:
                registry.close()
            conn.shutdown(socket.SHUT_RDWR)

    device = threading.Thread(target=scanner_device, daemon=True)
    device.start()
    try:
        result = run("unit", "provision", "--port", port, "--model", "mx200", "--scanner",
                     f"socket://127.0.0.1:{server.getsockname()[1]}")
    finally:
        device.join(20)
        server.close()
    assert "mx200-mx2l0006: done" in result.output, result.output.replace("\n", " | ")
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "scanner" in result.output.lower()
