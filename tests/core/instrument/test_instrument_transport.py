"""Opening a port that will not open: each cause gets its own message and what to do."""

from __future__ import annotations

import os
import socket
import sys

import pytest

from certbench.core.instrument.errors import InstrumentPortError
from certbench.core.instrument.transport import SerialTransport


def _open_error(port: str) -> InstrumentPortError:
    with pytest.raises(InstrumentPortError) as exc:
        SerialTransport(port).close()
    return exc.value


def test_a_port_that_does_not_exist(tmp_path):
    err = _open_error(str(tmp_path / "ttyUSB7"))
    assert err.message.startswith("There is no serial port") and "certbench instrument ports" in err.hint


def test_nothing_listening_on_a_network_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    err = _open_error(f"socket://127.0.0.1:{free}")
    assert err.message == f"Nothing is listening at socket://127.0.0.1:{free}."
    assert "certbench emulate instrument" in err.hint


@pytest.mark.parametrize("url", ["socket://nohost", "socket://127.0.0.1:99999", "rfc2217://:5555", "foo://bar"])
def test_malformed_addresses(url):
    err = _open_error(url)
    assert "not a valid" in err.message and "socket://HOST:PORT" in err.hint
    assert "NoneType" not in err.message and "debug|info" not in err.message  # no pyserial internals


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX files")
def test_a_file_that_is_not_a_serial_port(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("x")
    assert _open_error(str(path)).message == f"{path} is not a serial port."


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminals")
def test_a_port_already_open_in_another_program():
    master, slave = os.openpty()
    try:
        first = SerialTransport(os.ttyname(slave))
        try:
            err = _open_error(os.ttyname(slave))
        finally:
            first.close()
    finally:
        os.close(master)
        os.close(slave)
    assert "in use by another program" in err.message and "Close the other program" in err.hint
