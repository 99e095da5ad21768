"""The commands as a technician runs them: `central groups|devices`, `ca verify`, `ca status`
in-process against the emulator (the token in the in-memory keyring), and
`emulate iotcentral` as a real child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from certbench.core import secrets
from certbench.core.cli import main
from certbench.core.iotcentral import ApiCredential, IoTCentralClient


@pytest.fixture
def configured(emulator, tmp_path, monkeypatch):
    config = tmp_path / "certbench.toml"
    config.write_text(f'[iotcentral]\nbase_url = "{emulator.base_url}"\nca_file = "{emulator.ca_file.as_posix()}"\n'
                      "timeout_seconds = 10\n")
    monkeypatch.setenv("CERTBENCH_CONFIG", str(config))
    secrets.set_secret(secrets.IOTCENTRAL_TOKEN, emulator.token)
    return emulator


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_groups_create_list_show(configured, capsys):
    code, out, _ = run(capsys, "central", "groups", "create", "medicorp-devices-9", "--name", "Nine", "--json")
    assert code == 0 and json.loads(out)["display_name"] == "Nine"
    code, out, _ = run(capsys, "central", "groups", "list", "--json")
    assert code == 0 and [g["id"] for g in json.loads(out)] == ["medicorp-devices-9"]
    code, out, _ = run(capsys, "central", "groups", "show", "medicorp-devices-9")
    assert code == 0 and "Nine" in out and configured.id_scope in out
    code, out, err = run(capsys, "central", "groups", "show", "nope")
    assert code == 5 and "no enrollment group 'nope'" in err
    code, _, err = run(capsys, "central", "groups", "create", "bad_id")
    assert code == 3 and "not a valid enrollment group id" in err


def test_groups_create_never_changes_an_existing_group(configured, capsys):
    assert run(capsys, "central", "groups", "create", "medicorp-devices-1", "--name", "Production")[0] == 0
    code, _, err = run(capsys, "central", "groups", "create", "medicorp-devices-1", "--name", "Oops", "--disabled")
    assert code == 3 and "already exists" in err and "nothing was changed" in err
    code, out, _ = run(capsys, "central", "groups", "show", "medicorp-devices-1", "--json")
    group = json.loads(out)
    assert (group["display_name"], group["enabled"]) == ("Production", True)


def test_devices_list_show(configured, capsys):
    for i in range(3):
        configured.state.upsert_device(f"mx200-000{i}")
    code, out, _ = run(capsys, "central", "devices", "list", "--page-size", "2", "--json")
    assert code == 0 and [d["id"] for d in json.loads(out)] == ["mx200-0000", "mx200-0001", "mx200-0002"]
    code, out, _ = run(capsys, "central", "devices", "show", "mx200-0001", "--json")
    assert code == 0 and json.loads(out)["provisioned"] is True


def test_ca_verify_all_then_status(configured, capsys):
    code, out, _ = run(capsys, "ca", "status", "--json")
    assert code == 1 and {r["state"] for r in json.loads(out)} == {"not-uploaded"}
    for i in range(1, 5):
        code, out, err = run(capsys, "ca", "verify", f"medicorp-ica-{i}")
        assert code == 0, err
        assert "is verified" in out and "upload:" in out
    code, out, _ = run(capsys, "ca", "verify", "medicorp-ica-1", "--json")
    assert code == 0 and json.loads(out)["already_verified"] is True
    code, out, _ = run(capsys, "ca", "status", "--json")
    rows = json.loads(out)
    assert code == 0 and [(r["name"], r["state"]) for r in rows] == [(f"medicorp-ica-{i}", "verified") for i in range(1, 5)]
    assert {r["found_group"] for r in rows} == {"medicorp-devices-1", "medicorp-devices-2"}


def test_retries_are_reported_on_stderr_so_json_stays_parseable(configured, capsys):
    configured.app.faults.add("429", 2, retry_after=0)
    code, out, err = run(capsys, "ca", "status", "--json")
    assert code == 1 and len(json.loads(out)) == 4
    assert err.count("HTTP 429; retrying") == 2


def test_ca_verify_refuses_to_overwrite_without_replace(configured, capsys):
    assert run(capsys, "ca", "verify", "medicorp-ica-1", "--group", "g1", "--entry", "primary")[0] == 0
    code, _, err = run(capsys, "ca", "verify", "medicorp-ica-2", "--group", "g1", "--entry", "primary")
    assert code == 3 and "--replace" in err
    code, out, _ = run(capsys, "ca", "verify", "medicorp-ica-2", "--group", "g1", "--entry", "primary", "--replace",
                       "--json")
    assert code == 0 and json.loads(out)["replaced_thumbprint"]


def test_wrong_token_exit_code_and_no_token_in_output(configured, capsys):
    wrong = configured.token.replace("sig=", "sig=Z")
    secrets.set_secret(secrets.IOTCENTRAL_TOKEN, wrong)
    code, out, err = run(capsys, "central", "groups", "list")
    assert code == 5 and "wrong or has expired" in err
    assert wrong not in out + err and configured.token not in out + err


def _child_env(home):
    return dict(os.environ, CERTBENCH_HOME=str(home), PYTHON_KEYRING_BACKEND="certbench.core.secrets.MemoryKeyring")


def _start(state_dir, home, *extra):
    proc = subprocess.Popen(
        [sys.executable, "-m", "certbench.core", "emulate", "iotcentral", "--port", "0", "--state", str(state_dir),
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_child_env(home),
    )
    printed = {}
    for line in proc.stdout:
        if line.startswith("Serving"):
            break
        key, _, value = line.partition(": ")
        if key in ("base_url", "token", "ca_file", "id_scope"):
            printed[key] = value.strip()
        elif key == "fault":
            printed.setdefault("faults", []).append(value.strip())
    printed_keys = set(printed) - {"faults"}
    assert printed_keys == {"base_url", "token", "ca_file", "id_scope"}, proc.stderr.read()
    return proc, printed


def _stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    finally:
        proc.stdout.close()
        proc.stderr.close()


def test_emulate_iotcentral_standalone_with_state(tmp_path, certbench_home):
    state_dir = tmp_path / "iotc-state"
    proc, printed = _start(state_dir, certbench_home)
    try:
        assert printed["base_url"].startswith("https://127.0.0.1:")
        assert printed["token"].startswith("SharedAccessSignature sr=")
        with IoTCentralClient(printed["base_url"], ApiCredential(printed["token"]), ca_file=printed["ca_file"]) as c:
            group = c.create_group("kept", "Kept across restarts")
            assert group.id_scope == printed["id_scope"]
    finally:
        _stop(proc)
    proc, again = _start(state_dir, certbench_home)
    try:
        assert again["id_scope"] == printed["id_scope"]
        # The first run's token still works (kept as a digest), against the new server certificate.
        with IoTCentralClient(again["base_url"], ApiCredential(printed["token"]), ca_file=again["ca_file"]) as c:
            assert [g.id for g in c.list_groups()] == ["kept"]
    finally:
        _stop(proc)


def _with_file_intermediate(configured, tmp_path, monkeypatch, cert):
    from cryptography.hazmat.primitives.serialization import Encoding

    path = tmp_path / "ica-4.pem"
    path.write_bytes(cert.public_bytes(Encoding.PEM))
    config = tmp_path / "file-intermediate.toml"
    text = (f'[iotcentral]\nbase_url = "{configured.base_url}"\nca_file = "{configured.ca_file.as_posix()}"\n')
    for i in range(1, 5):
        text += (f'[[intermediates]]\nname = "medicorp-ica-{i}"\ngroup = "g{(i + 1) // 2}"\n'
                 f'entry = "{"primary" if i % 2 else "secondary"}"\n')
        text += f'source = "file"\ncertificate_file = "{path.as_posix()}"\n' if i == 4 else 'source = "local"\n'
    config.write_text(text)
    monkeypatch.setenv("CERTBENCH_CONFIG", str(config))


def test_file_intermediate_is_checked_and_cannot_be_verified_here(configured, capsys, tmp_path, monkeypatch):
    from iotc_certs import ca_certificate

    not_ca, _ = ca_certificate("MX200-000001", ca=False)
    _with_file_intermediate(configured, tmp_path, monkeypatch, not_ca)
    code, _, err = run(capsys, "ca", "verify", "medicorp-ica-4")
    assert code == 3 and "not a CA certificate" in " ".join(err.split())
    code, out, _ = run(capsys, "ca", "status", "--json")
    row = json.loads(out)[3]
    assert code == 1 and row["name"] == "medicorp-ica-4" and "Not a CA certificate" in row["problem"]

    good_ca, _ = ca_certificate("MediCorp ICA 4 (file)")
    _with_file_intermediate(configured, tmp_path, monkeypatch, good_ca)
    code, _, err = run(capsys, "ca", "verify", "medicorp-ica-4")
    err = " ".join(err.split())
    assert code == 4 and "comes from a file" in err and 'source = "sectigo"' in err
    assert configured.state.groups == {}  # nothing was sent


def test_emulate_iotcentral_with_faults_set_for_the_run(tmp_path, certbench_home):
    import ssl

    import httpx

    proc, printed = _start(tmp_path / "state", certbench_home, "--fault", "429:2@^/api/enrollmentGroups$",
                           "--retry-after", "0", "--fault", "500:forever@/devices")
    try:
        assert printed["faults"][:2] == ["429 2x on paths matching ^/api/enrollmentGroups$",
                                         "500 every request on paths matching /devices"]
        with httpx.Client(base_url=printed["base_url"], verify=ssl.create_default_context(cafile=printed["ca_file"]),
                          timeout=10,
                          headers={"Authorization": printed["token"]}) as http:
            answers = [http.get("/api/enrollmentGroups", params={"api-version": "2022-07-31"}) for _ in range(3)]
            assert [a.status_code for a in answers] == [429, 429, 200]
            assert answers[0].headers["Retry-After"] == "0"
            assert answers[0].json()["error"]["code"] == "TooManyRequests"
            assert http.get("/api/devices", params={"api-version": "2022-07-31"}).status_code == 500
    finally:
        _stop(proc)


@pytest.mark.parametrize("spec", ["42", "429:0", "drop@(", "pending", "429:x"])
def test_fault_option_refuses_what_it_cannot_arm(spec):
    import click

    from certbench.core.cli.emulator_faults import BASE_KINDS, parse_fault

    with pytest.raises(click.BadParameter):
        parse_fault(spec, BASE_KINDS)
    assert parse_fault("drop-after:forever@/verify$", BASE_KINDS).count == -1
