"""USB-serial scanners over pyserial URLs (socket:// and loop://) and the port finder."""

from __future__ import annotations

import queue
import socket
import threading

import pytest
from serial.tools import list_ports_common

from certbench.core.naming import scanner as scanner_module
from certbench.core.naming.errors import ScannerError
from certbench.core.naming.scanner import SerialScanner, find_scanner_ports, parse_vid_pid


class FakeScannerDevice:
    """A TCP peer standing in for the scanner: pyserial's socket:// port talks to it."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(5)
        self.url = f"socket://127.0.0.1:{self._server.getsockname()[1]}"
        self._conn: socket.socket | None = None
        self._accepted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self._conn, _ = self._server.accept()
        self._accepted.set()

    def send(self, data: bytes) -> None:
        assert self._accepted.wait(5), "the scanner never connected"
        self._conn.sendall(data)

    def unplug(self) -> None:
        assert self._accepted.wait(5)
        self._conn.shutdown(socket.SHUT_RDWR)
        self._conn.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._server.close()


@pytest.fixture
def device():
    fake = FakeScannerDevice()
    yield fake
    fake.close()


def _collect():
    events: queue.Queue = queue.Queue()
    return events, events.put


def test_lines_with_any_terminator_become_scans(device):
    events, on_scan = _collect()
    with SerialScanner(device.url, on_scan) as reader:
        device.send(b"]d2010950600013435221SN1\x1d10L1\r\nSN-2\rSN-3\n")
        device.send(b"SN-")  # a line split across reads
        device.send(b"4\r\n")
        texts = [events.get(timeout=5).text for _ in range(4)]
        assert texts == ["]d2010950600013435221SN1\x1d10L1", "SN-2", "SN-3", "SN-4"]
        assert reader.running
    assert not reader.running
    first = texts[0]
    assert "\x1d" in first


def test_event_source_names_the_port(device):
    events, on_scan = _collect()
    with SerialScanner(device.url, on_scan):
        device.send(b"SN1\r")
        device.send(b"\n")
        event = events.get(timeout=5)
    assert (event.text, event.source) == ("SN1", f"serial:{device.url}")


def test_line_without_terminator_is_delivered_after_silence(device):
    events, on_scan = _collect()
    with SerialScanner(device.url, on_scan, idle_flush=0.2):
        device.send(b"NOTERM1")
        assert events.get(timeout=5).text == "NOTERM1"


def test_prefix_and_suffix_are_stripped(device):
    events, on_scan = _collect()
    with SerialScanner(device.url, on_scan, prefix="#", suffix="!"):
        device.send(b"#SN9!\r\n")
        assert events.get(timeout=5).text == "SN9"


def test_unplugged_scanner_reports_a_clear_error(device):
    events, on_scan = _collect()
    errors: queue.Queue = queue.Queue()
    reader = SerialScanner(device.url, on_scan, on_error=errors.put).start()
    try:
        device.send(b"SN1\n")
        assert events.get(timeout=5).text == "SN1"
        device.unplug()
        error = errors.get(timeout=5)
        assert isinstance(error, ScannerError)
        assert "unplugged" in error.message and device.url in error.message
        assert error.hint
        assert reader.error is error
    finally:
        reader.stop()
    assert not reader.running


def test_missing_port_cannot_be_opened():
    with pytest.raises(ScannerError) as caught:
        SerialScanner("/dev/does-not-exist-scanner", lambda e: None).start()
    assert "/dev/does-not-exist-scanner" in caught.value.message and caught.value.hint


def test_loop_port_starts_and_stops_cleanly_while_idle():
    reader = SerialScanner("loop://", lambda e: None, read_timeout=0.05).start()
    assert reader.running
    reader.stop()
    assert not reader.running and reader.error is None


def _port(device, vid, pid, description="scanner"):
    info = list_ports_common.ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.description, info.serial_number = vid, pid, description, "S1"
    return info


def test_find_scanner_ports_filters_by_vid_pid(monkeypatch):
    ports = [
        _port("COM7", 0x05E0, 0x1200, "Zebra scanner"),
        _port("COM3", 0x0403, 0x6001, "FTDI (an instrument)"),
        _port("COM9", None, None, "Bluetooth link"),
        _port("COM4", 0x0C2E, 0x0B61, "Honeywell scanner"),
    ]
    monkeypatch.setattr(scanner_module.list_ports, "comports", lambda: ports)
    found = find_scanner_ports(["05E0:1200", (0x0C2E, 0x0B61)])
    assert [(p.device, p.vid, p.pid, p.description) for p in found] == [
        ("COM4", 0x0C2E, 0x0B61, "Honeywell scanner"),
        ("COM7", 0x05E0, 0x1200, "Zebra scanner"),
    ]
    assert find_scanner_ports([]) == []


def test_parse_vid_pid():
    assert parse_vid_pid("05e0:1200") == (0x05E0, 0x1200)
    with pytest.raises(ScannerError):
        parse_vid_pid("05E01200")


def test_cr_only_scanner_line_is_delivered_without_waiting_for_lf(device):
    events, on_scan = _collect()
    with SerialScanner(device.url, on_scan, idle_flush=30):
        device.send(b"SNCR1\r")
        assert events.get(timeout=5).text == "SNCR1"
        device.send(b"\nSNCR2\r")
        assert events.get(timeout=5).text == "SNCR2"
