"""`certbench instrument ...` and `certbench emulate instrument`, run as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from certbench.core.emulators.instrument import SimulatedInstrument


def _env(home):
    return dict(os.environ, CERTBENCH_HOME=str(home), PYTHON_KEYRING_BACKEND="certbench.core.secrets.MemoryKeyring")


def certbench(*args, home, input=None):
    return subprocess.run([sys.executable, "-m", "certbench.core", *args], capture_output=True, text=True,
                          env=_env(home), input=input, timeout=120)


@pytest.fixture
def sim(tmp_path):
    sim = SimulatedInstrument(model="MC-300", serial="CLI-7", store_dir=tmp_path / "sim")
    url = sim.serve_tcp()
    yield sim, url
    sim.close()


def test_hello_hash_wipe_against_the_simulator(sim, certbench_home):
    instrument, url = sim
    result = certbench("instrument", "hello", "--port", url, "--json", home=certbench_home)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert (info["model"], info["serial"], info["keygen"]) == ("MC-300", "CLI-7", True)

    result = certbench("instrument", "hello", "--port", url, home=certbench_home)
    assert "MC-300" in result.stdout and "CLI-7" in result.stdout

    result = certbench("instrument", "hash", "--port", url, "--json", home=certbench_home)
    assert result.returncode == 0 and json.loads(result.stdout) == {"trust": None, "chain": None, "key": None}

    result = certbench("instrument", "wipe", "--port", url, home=certbench_home, input="n\n")
    assert result.returncode == 3 and "Nothing was erased" in result.stderr
    result = certbench("instrument", "wipe", "--port", url, "--yes", home=certbench_home)
    assert result.returncode == 0 and "erased" in result.stdout


def test_wrong_serial_and_no_instrument_give_instrument_exit_code(sim, certbench_home):
    _, url = sim
    result = certbench("instrument", "hello", "--port", url, "--expect-serial", "OTHER", home=certbench_home)
    assert result.returncode == 6 and "CLI-7" in result.stderr
    result = certbench("instrument", "hello", "--port", "socket://127.0.0.1:1", home=certbench_home)
    assert result.returncode == 6 and "What to do" in result.stderr


def test_ports_lists_as_json(certbench_home):
    result = certbench("instrument", "ports", "--json", home=certbench_home)
    assert result.returncode == 0
    assert isinstance(json.loads(result.stdout), list)


def test_emulate_instrument_serves_until_stopped(certbench_home, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "certbench.core", "emulate", "instrument", "--tcp", "0", "--serial", "EMU-1",
         "--no-keygen", "--store-dir", str(tmp_path / "emu")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(certbench_home),
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("port: socket://127.0.0.1:"), line + proc.stderr.read()
        url = line.split()[1]
        result = certbench("instrument", "hello", "--port", url, "--json", home=certbench_home)
        info = json.loads(result.stdout)
        assert info["serial"] == "EMU-1" and info["key_import"] and not info["keygen"]
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


def test_emulated_instrument_makes_keys_on_a_machine_without_a_keyring(certbench_home, tmp_path):
    from certbench.core.instrument.client import Instrument

    env = dict(_env(certbench_home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    proc = subprocess.Popen(
        [sys.executable, "-m", "certbench.core", "emulate", "instrument", "--tcp", "0", "--serial", "EMU-2",
         "--store-dir", str(tmp_path / "emu")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("port: socket://127.0.0.1:"), line + proc.stderr.read()
        with Instrument.open(line.split()[1]) as inst:
            csr = inst.keygen("ec-p256", "mx200-emu-2")
        assert csr.is_signature_valid
    finally:
        proc.terminate()
        proc.wait(10)
        assert "no OS keyring" in proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
