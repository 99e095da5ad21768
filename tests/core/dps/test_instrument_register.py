"""The instrument-side registration check: a simulated instrument registers itself (REGISTER,
the real azure-iot-device client with what its store holds) against the DPS emulator, and
`certbench instrument register` confirms the device through the IoT Central client.
Emulators from demo mode (settings and keyring in the test's home)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from certbench.core.cli import main
from certbench.core.demo import DemoServices
from certbench.core.emulators.instrument.register import DpsRegistrar, short_message
from certbench.core.emulators.instrument.simulator import SimulatedInstrument
from certbench.core.instrument.client import Instrument
from certbench.core.instrument.protocol import RegisterRequest, RegisterStatus
from certbench.core.iotcentral import IoTCentralClient
from certbench.core.trust import azure_root_certificates
from certbench.core.x509.keys import generate_key
from certbench.core.x509.parse import load_certificates

INTERMEDIATE = "medicorp-ica-1"


@pytest.fixture
def services(tmp_path):
    """IoT Central + DPS + Sectigo emulators, settings and secrets in this test's home."""
    with DemoServices(tmp_path / "demo") as demo:
        yield demo


def _dps_ca(services):
    return load_certificates(services.dps.ca_file.read_bytes())


def _credentials(services, cn, *, with_intermediate=True, intermediate=INTERMEDIATE, **dates):
    ca = services.sectigo.app.ca
    key = generate_key()
    leaf = ca.sign_leaf(intermediate, key.public_key(), cn, **dates)
    info = ca.intermediate(intermediate)
    trust = [info.certificate, *azure_root_certificates()]
    return key, ([leaf, info.certificate] if with_intermediate else [leaf]), trust


@pytest.fixture
def sim(services, tmp_path):
    made = []

    def make(cn, **kwargs):
        instrument = SimulatedInstrument("MX200", cn.upper(), store_dir=tmp_path / "sim", keygen=False,
                                         register_handler=DpsRegistrar(_dps_ca(services)))
        made.append(instrument)
        key, chain, trust = _credentials(services, cn, **kwargs)
        with Instrument(instrument.connect()) as inst:
            inst.hello()
            inst.provision(trust, chain, key)
        return instrument, instrument.serve_tcp()

    yield make
    for instrument in made:
        instrument.close()


def _cli(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    return info.value.code or 0, out, " ".join(err.split())  # messages are wrapped to the terminal's width


def _device(services, device_id):
    with IoTCentralClient.from_settings(services.settings.iotcentral) as client:
        return client.find_device(device_id)


def test_instrument_registers_itself_and_iot_central_shows_it_provisioned(services, sim, capsys):
    _, port = sim("mx200-reg00001")
    code, out, err = _cli(capsys, "instrument", "register", "--port", port, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert (result["status"], result["device_id"], result["central"]) == ("ASSIGNED", "mx200-reg00001", "provisioned")
    assert result["assigned_hub"].endswith(".azure-devices.net") and result["serial"] == "MX200-REG00001"
    device = _device(services, "mx200-reg00001")
    assert device is not None and device.provisioned
    # the DPS emulator saw the instrument's own chain: leaf and intermediate
    record = services.dps.dps.connections[-1]
    assert [c.subject.rfc4514_string() for c in record.chain][0] == "CN=mx200-reg00001"
    assert len(record.chain) == 2

    code, out, _ = _cli(capsys, "instrument", "register", "--port", port)
    assert code == 0 and "device exists and is provisioned" in out


def test_leaf_alone_is_reported_as_missing_intermediate(services, sim, capsys):
    _, port = sim("mx200-reg00002", with_intermediate=False)
    code, out, err = _cli(capsys, "instrument", "register", "--port", port)
    assert code == 5
    assert "NOT_AUTHORIZED" in err and "missing the intermediate" in err and "What to do" in err
    assert _device(services, "mx200-reg00002") is None


def test_expired_leaf_and_disabled_group_are_refused(services, sim, capsys):
    now = dt.datetime.now(dt.timezone.utc)
    _, port = sim("mx200-reg00003", not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1))
    code, _, err = _cli(capsys, "instrument", "register", "--port", port)
    assert code == 5 and "expired" in err
    _, port = sim("mx200-reg00004", intermediate="medicorp-ica-4")
    with IoTCentralClient.from_settings(services.settings.iotcentral) as client:
        client.update_group(services.settings.intermediate("medicorp-ica-4").group, {"enabled": False})
    code, _, err = _cli(capsys, "instrument", "register", "--port", port)
    assert code == 5 and "DISABLED" in err and "disabled" in err
    assert _device(services, "mx200-reg00004") is None


def test_server_ca_not_in_the_trust_store_is_a_tls_error(services, sim, capsys):
    _, port = sim("mx200-reg00005")
    code, _, err = _cli(capsys, "instrument", "register", "--port", port, "--ca", str(services.sectigo.ca_file))
    assert code == 5 and "TLS_ERROR" in err and "not in my trust store" in err
    assert _device(services, "mx200-reg00005") is None


def test_registrar_maps_outcomes_and_keeps_messages_short(services):
    key, chain, trust = _credentials(services, "mx200-reg00006", with_intermediate=False)
    registrar = DpsRegistrar(_dps_ca(services), timeout=20)
    answer = registrar(RegisterRequest(services.dps.id_scope, services.dps.host), chain, key, trust=trust)
    assert answer.status == RegisterStatus.NOT_AUTHORIZED and answer.message.startswith("The chain is missing")
    assert len(answer.encode()) < 256
    assert len(short_message("é" * 200).encode("utf-8")) <= 160


def test_standalone_simulator_registers_with_the_dps_ca_it_is_given(services, capsys, tmp_path):
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="certbench.core.secrets.MemoryKeyring")  # it needs no secret
    proc = subprocess.Popen(
        [sys.executable, "-m", "certbench.core", "emulate", "instrument", "--tcp", "0", "--serial", "MX200-REG00007",
         "--model", "MX200", "--no-keygen", "--store-dir", str(tmp_path / "emu"), "--dps-ca", str(services.dps.ca_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("port: socket://"), line + proc.stderr.read()
        port = line.split()[1]
        key, chain, trust = _credentials(services, "mx200-reg00007")
        with Instrument.open(port, 115200) as inst:
            inst.provision(trust, chain, key)
        code, out, err = _cli(capsys, "instrument", "register", "--port", port, "--json")
        assert code == 0, err
        assert json.loads(out)["central"] == "provisioned"
        assert _device(services, "mx200-reg00007").provisioned
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


def test_instrument_without_register_and_missing_scope_are_refused_clearly(services, capsys, tmp_path):
    instrument = SimulatedInstrument("MX200", "MX200-REG00008", store_dir=tmp_path / "plain", keygen=False)
    try:
        port = instrument.serve_tcp()
        code, _, err = _cli(capsys, "instrument", "register", "--port", port)
        assert code == 6 and "no REGISTER function" in err and "certbench dps register" in err
        services.settings.dps.id_scope = ""
        from certbench.core.config import save_settings

        save_settings(services.settings)
        code, _, err = _cli(capsys, "instrument", "register", "--port", port)
        assert code == 4 and "ID scope" in err
    finally:
        instrument.close()
