"""`certbench dps register` in-process against the emulators, and `certbench emulate dps`
as a real child process that a real client registers against."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from certbench.core.cli import main
from certbench.core.dps import register_with_dps
from certbench.core.iotcentral import ApiCredential, IoTCentralClient
from certbench.core.workflows.ca_verification import verify_intermediate
from certbench.core.x509.keys import encrypt_private_key
from certbench.core.x509.parse import to_pem

PASSPHRASE = "correct horse battery staple"


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.fixture
def files(tmp_path, make_unit, monkeypatch):
    monkeypatch.setenv("CERTBENCH_KEY_PASSPHRASE", PASSPHRASE)
    unit = make_unit("mc-cli-000001")
    (tmp_path / "chain.pem").write_text(to_pem(unit.chain))
    (tmp_path / "leaf.pem").write_text(to_pem([unit.leaf]))
    (tmp_path / "key.pem").write_bytes(encrypt_private_key(unit.key, PASSPHRASE.encode()))
    (tmp_path / "dps-ca.pem").write_text("")
    return tmp_path


def _args(dps, files, chain="chain.pem"):
    (files / "dps-ca.pem").write_text(dps.ca_pem)
    return ["dps", "register", "--chain", str(files / chain), "--key", str(files / "key.pem"),
            "--scope", dps.id_scope, "--host", dps.host, "--ca", str(files / "dps-ca.pem"), "--timeout", "30"]


def test_register_command_success_and_missing_intermediate(dps, verified_group, files, central_client, capsys):
    code, out, err = run(capsys, *_args(dps, files), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["ok"] is True and data["device_id"] == "mc-cli-000001"
    assert data["assigned_hub"] == dps.service.assigned_hub
    assert central_client.get_device("mc-cli-000001").provisioned

    code, out, err = run(capsys, *_args(dps, files, chain="leaf.pem"))
    assert code == 5
    assert "missing the intermediate" in err and "What to do" in err


def test_register_command_refuses_bad_key_files(dps, files, capsys, monkeypatch):
    (files / "clear.pem").write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    args = _args(dps, files)
    key_at = args.index("--key") + 1

    args[key_at] = str(files / "clear.pem")
    code, _, err = run(capsys, *args)
    assert code == 3 and "not encrypted" in err

    args[key_at] = str(files / "chain.pem")
    code, _, err = run(capsys, *args)
    assert code == 3 and "no PEM private key" in err

    monkeypatch.setenv("CERTBENCH_KEY_PASSPHRASE", "wrong")
    code, _, err = run(capsys, *_args(dps, files))
    assert code == 3 and "passphrase is wrong" in err
    assert len(dps.connections) == 0  # nothing was sent


def test_emulate_dps_child_process(tmp_path, certbench_home, free_address, local_ca, make_unit):
    host = free_address()
    env = dict(os.environ, CERTBENCH_HOME=str(certbench_home),
               PYTHON_KEYRING_BACKEND="certbench.core.secrets.MemoryKeyring")
    proc = subprocess.Popen([sys.executable, "-m", "certbench.core", "emulate", "dps", "--host", host],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        printed = {}
        for line in proc.stdout:
            if line.startswith("Serving"):
                break
            key, sep, value = line.partition(": ")
            if sep and not key.startswith(" "):
                printed[key] = value.strip()
        assert printed.get("dps_host") == host, proc.stderr.read() if proc.poll() is not None else printed
        assert printed["id_scope"].startswith("0ne")
        ca_pem = open(printed["dps_ca_file"]).read()
        with IoTCentralClient(printed["iotcentral_base_url"], ApiCredential(printed["iotcentral_token"]),
                              ca_file=printed["iotcentral_ca_file"], timeout=10) as client:
            verify_intermediate(client, local_ca, "medicorp-ica-1", group="bench", entry="primary")
            unit = make_unit("mc-child-000001")
            outcome = register_with_dps(unit.chain, unit.key, id_scope=printed["id_scope"], host=host,
                                        server_ca_pem=ca_pem, timeout=30)
            assert outcome.ok, outcome
            assert client.get_device("mc-child-000001").provisioned
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        finally:
            proc.stdout.close()
            proc.stderr.close()


def test_emulate_all_starts_everything_and_stops_on_ctrl_c(certbench_home, free_address):
    import signal

    host = free_address()
    env = dict(os.environ, CERTBENCH_HOME=str(certbench_home),
               PYTHON_KEYRING_BACKEND="certbench.core.secrets.MemoryKeyring")
    proc = subprocess.Popen([sys.executable, "-m", "certbench.core", "emulate", "all", "--host", host, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        info = json.loads(proc.stdout.readline())
        assert proc.stdout.readline().startswith("Serving")
        assert info["dps_host"] == host and info["id_scope"].startswith("0ne")
        assert info["iotcentral_base_url"].startswith("https://127.0.0.1:")
        assert info["sectigo_base_url"].startswith("https://127.0.0.1:")
        assert "BEGIN CERTIFICATE" in open(info["dps_ca_file"]).read()
        proc.send_signal(signal.SIGINT)
        # Generous bound: stopping joins each server's threads, slow on a loaded 2-core machine;
        # a real hang still fails here.
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("emulate all did not stop within 60 s of Ctrl+C: " + proc.stderr.read()[-2000:])
        assert code == 0, proc.stderr.read()[-2000:]
        # The address is free again: the emulator closed its socket.
        probe = __import__("socket").socket()
        try:
            probe.bind((host, 8883))
        finally:
            probe.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
