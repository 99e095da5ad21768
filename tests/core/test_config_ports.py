"""[bench] instrument_ports / instrument_usb_ids / instrument_baud: checked on load with the key
named, and honoured where instruments are looked for (the dashboard, the bench env's line
speed), against simulated instruments on socket:// ports."""

from __future__ import annotations

import socket

import pytest

from certbench.core import config, dashboard
from certbench.core.bench import BenchEnv
from certbench.core.emulators.instrument import SimulatedInstrument
from certbench.core.errors import ConfigError
from certbench.core.instrument.ports import list_ports
from certbench.core.instrument.transport import DEFAULT_BAUD


def write(home, text):
    path = home / "config" / "certbench.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_look_everywhere_at_the_protocol_rate():
    bench = config.load_settings().bench
    assert bench.instrument_ports == []
    assert bench.instrument_usb_ids == []
    assert bench.instrument_baud == DEFAULT_BAUD == 115200


def test_ports_ids_and_rate_load_and_round_trip(certbench_home):
    write(certbench_home, '[bench]\ninstrument_ports = ["COM3", "socket://127.0.0.1:5555", "rfc2217://[::1]:2217"]\n'
                          'instrument_usb_ids = ["0403:6001", "10c4:EA60"]\ninstrument_baud = 57600\n')
    bench = config.load_settings().bench
    assert bench.instrument_ports == ["COM3", "socket://127.0.0.1:5555", "rfc2217://[::1]:2217"]
    assert bench.instrument_usb_ids == ["0403:6001", "10c4:EA60"]
    assert bench.instrument_baud == 57600
    settings = config.load_settings()
    settings.bench.instrument_baud = 9600
    config.save_settings(settings)
    assert config.load_settings().bench.instrument_baud == 9600
    assert config.load_settings().bench.instrument_ports[1] == "socket://127.0.0.1:5555"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('instrument_usb_ids = ["403:6001"]', "'bench.instrument_usb_ids': '403:6001' is not a USB vendor:product id"),
        ('instrument_usb_ids = ["0403-6001"]', "'bench.instrument_usb_ids': '0403-6001' is not"),
        ('instrument_usb_ids = ["VID_0403&PID_6001"]', "'VID_0403&PID_6001' is not a USB vendor:product id"),
        ('instrument_usb_ids = ["04G3:6001"]', "'04G3:6001' is not a USB vendor:product id"),
        ('instrument_usb_ids = "0403:6001"', "'bench.instrument_usb_ids' must be a list"),
        ("instrument_baud = 0", "'bench.instrument_baud': 0 is not a positive number"),
        ("instrument_baud = -9600", "'bench.instrument_baud': -9600 is not a positive number"),
        ("instrument_baud = 115201", "'bench.instrument_baud': 115201 is not a usual serial line speed"),
        ('instrument_baud = "fast"', "'bench.instrument_baud' must be a whole number"),
        ("instrument_baud = 9600.0", "'bench.instrument_baud' must be a whole number"),
        ("instrument_baud = true", "'bench.instrument_baud' must be a whole number"),
        ('instrument_ports = "COM3"', "'bench.instrument_ports' must be a list"),
        ('instrument_ports = [""]', "'bench.instrument_ports': one entry is empty"),
        ('instrument_ports = ["COM3 COM4"]', "'COM3 COM4' is not a port name"),
        ('instrument_ports = ["COM3,COM4"]', "'COM3,COM4' is not a port name"),
        ('instrument_ports = ["ftp://host:21"]', "'ftp://host:21' is not a kind of port Certbench can open"),
        ('instrument_ports = ["socket://127.0.0.1"]', "'socket://127.0.0.1' lacks the host and port number"),
        ('instrument_ports = ["socket://127.0.0.1:70000"]', "lacks the host and port number"),
        ('instrument_ports = ["COM3", "com3"]', "'bench.instrument_ports': 'COM3' is listed twice"),
    ],
)
def test_invalid_port_settings_name_the_key(certbench_home, text, expected):
    write(certbench_home, f"[bench]\n{text}\n")
    with pytest.raises(ConfigError) as info:
        config.load_settings()
    assert expected in info.value.message
    assert info.value.hint


def test_invalid_port_settings_are_not_saved(certbench_home):
    settings = config.default_settings()
    settings.bench.instrument_baud = 12345
    with pytest.raises(ConfigError, match="instrument_baud"):
        config.save_settings(settings)
    assert not (certbench_home / "config" / "certbench.toml").exists()


# -- discovery --------------------------------------------------------------------------------------


@pytest.fixture
def bench_sims(tmp_path):
    """Two simulated instruments on TCP and a loopback port nobody listens on."""
    a = SimulatedInstrument(model="MC-100", serial="PORTS-A", store_dir=tmp_path / "a")
    b = SimulatedInstrument(model="MC-300", serial="PORTS-B", store_dir=tmp_path / "b")
    urls = a.serve_tcp(), b.serve_tcp()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"socket://127.0.0.1:{probe.getsockname()[1]}"
    yield urls[0], urls[1], dead
    a.close()
    b.close()


def test_discovery_asks_only_the_listed_ports(bench_sims):
    url_a, url_b, dead = bench_sims
    settings = config.default_settings()
    settings.bench.instrument_ports = [dead, url_b]
    assert dashboard.instrument_ports(settings.bench) == [dead, url_b]
    rows = dashboard.discover_instruments(settings=settings)
    assert [(r.port, r.model, r.serial) for r in rows] == [(url_b, "MC-300", "PORTS-B")]

    settings.bench.instrument_ports = [url_a, url_b]
    rows = dashboard.discover_instruments(settings=settings)
    assert sorted(r.serial for r in rows) == ["PORTS-A", "PORTS-B"]


def test_discovery_reads_the_saved_settings_when_none_are_given(certbench_home, bench_sims):
    url_a, _url_b, _dead = bench_sims
    write(certbench_home, f'[bench]\ninstrument_ports = ["{url_a}"]\n')
    assert [r.serial for r in dashboard.discover_instruments()] == ["PORTS-A"]


def test_explicit_ports_win_over_the_settings(bench_sims):
    url_a, url_b, _dead = bench_sims
    settings = config.default_settings()
    settings.bench.instrument_ports = [url_a]
    assert [r.serial for r in dashboard.discover_instruments([url_b], settings=settings)] == ["PORTS-B"]


def test_without_listed_ports_the_usb_ids_narrow_this_pcs_ports():
    bench = config.default_settings().bench
    assert dashboard.instrument_ports(bench) == [p.device for p in list_ports()]
    bench.instrument_usb_ids = ["FFFF:FFFE"]  # no adapter has it
    assert dashboard.instrument_ports(bench) == []
    present = [p for p in list_ports() if p.usb_id]
    if present:  # a PC with a USB-serial adapter: its own id finds it (case as typed does not matter)
        bench.instrument_usb_ids = [present[0].usb_id.lower()]
        assert present[0].device in dashboard.instrument_ports(bench)


def test_the_bench_env_opens_instruments_at_the_configured_rate():
    settings = config.default_settings()
    settings.bench.instrument_baud = 57600
    with BenchEnv.from_settings(settings, operator="t") as env:
        assert env.baud == 57600
    with BenchEnv.from_settings(settings, operator="t", baud=9600) as env:
        assert env.baud == 9600


def test_the_unit_cli_defaults_to_the_configured_rate(certbench_home):
    from certbench.core.cli.unit_cmds import _env

    write(certbench_home, "[bench]\ninstrument_baud = 230400\n")
    with _env("t", None) as env:
        assert env.baud == 230400
    with _env("t", None, 9600) as env:
        assert env.baud == 9600
