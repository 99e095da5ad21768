"""The foundation commands, run as a technician or a script would: a real `certbench`
process, its output and its exit code."""

import json
import os
import subprocess
import sys

import pytest

from certbench.core.pki.local import LocalCA
from certbench.core.x509.parse import to_pem


def certbench(*args, home, input=None, env_extra=None):
    # The child gets its own empty in-memory keyring: never the machine's real one.
    env = dict(os.environ, CERTBENCH_HOME=str(home), PYTHON_KEYRING_BACKEND="certbench.core.secrets.MemoryKeyring")
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "certbench.core", *args],
        capture_output=True, text=True, env=env, input=input, timeout=120,
    )


@pytest.fixture
def home(certbench_home):
    return certbench_home


def test_version_and_help(home):
    result = certbench("--version", home=home)
    assert result.returncode == 0 and "certbench" in result.stdout
    result = certbench("--help", home=home)
    for group in ("cert", "ca", "config", "demo", "gui"):
        assert group in result.stdout


def test_demo_runs_the_whole_flow_on_the_emulators(home):
    result = certbench("demo", "--units", "4", "--parallel", "2", "--json", home=home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    units = data["units"]
    assert len(units) == 4 and all(u["ok"] for u in units)
    assert len({u["cn"] for u in units}) == 4
    assert {u["model"] for u in units} == {"mx200", "mx300", "vx10", "lx5"}
    assert {u["key_origin"] for u in units} == {"device", "workstation"}
    assert all(u["registered"] and len(u["sha256"]) == 64 and u["order_id"] for u in units)
    assert (data["summary"]["done"], data["summary"]["failed"]) == (4, 0)
    # The demo's throw-away folder is gone afterwards.
    assert not os.path.exists(data["home"])


def test_inspect_reads_what_it_is_given_and_refuses_garbage(home, tmp_path):
    # The CLI runs in another process with its own keyring: only public files are handed over.
    ca = LocalCA(home / "data" / "local-ca").ensure()
    chain = tmp_path / "chain.pem"
    chain.write_text(to_pem([ca.intermediate("medicorp-ica-1").certificate, ca.root_certificate]).replace("\n", "\r\n"))
    result = certbench("cert", "inspect", str(chain), "--json", home=home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [d["common_name"] for d in data] == ["medicorp-ica-1", "MediCorp Local Root CA"]
    assert all(d["is_ca"] for d in data)

    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n")
    result = certbench("cert", "inspect", str(garbage), home=home)
    assert result.returncode == 3
    assert "garbage.pem" in result.stderr and "Traceback" not in result.stderr


def test_verify_chain_exit_codes(home, tmp_path):
    ca = LocalCA(home / "data" / "local-ca").ensure()
    from certbench.core.x509.identity import make_identity

    issued = ca.issue("medicorp-ica-2", make_identity("mx300-cli").csr)
    leaf = tmp_path / "leaf.pem"
    leaf.write_text(to_pem(reversed(issued.chain)))  # intermediate first: order must not matter
    anchor, wrong = tmp_path / "ica2.pem", tmp_path / "ica3.pem"
    anchor.write_text(to_pem([ca.intermediate("medicorp-ica-2").certificate]))
    wrong.write_text(to_pem([ca.intermediate("medicorp-ica-3").certificate]))
    good = certbench("cert", "verify-chain", str(leaf), "--ca", str(anchor), "--json", home=home)
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["path"][0] == "mx300-cli"
    bad = certbench("cert", "verify-chain", str(leaf), "--ca", str(wrong), "--json", home=home)
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["valid"] is False


def test_config_check_names_the_bad_key(home):
    (home / "config").mkdir(exist_ok=True)
    (home / "config" / "certbench.toml").write_text('[sectigo]\nauth = "kerberos"\n')
    result = certbench("config", "check", home=home)
    assert result.returncode == 4
    assert "sectigo.auth" in result.stderr


def test_local_issue_writes_key_only_encrypted(home, tmp_path):
    key_out, cert_out = tmp_path / "unit.key", tmp_path / "unit.pem"
    result = certbench(
        "ca", "local", "issue", "--cn", "LX5-SN42", "--key-type", "rsa-2048", "--cert-out", str(cert_out),
        "--key-out", str(key_out), "--json", home=home, env_extra={"CERTBENCH_KEY_PASSPHRASE": "correct horse"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["certificate"]["common_name"] == "lx5-sn42"
    assert key_out.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert oct(key_out.stat().st_mode & 0o777) == "0o600"
    again = certbench("ca", "local", "issue", "--cn", "lx5-sn43", "--key-out", str(key_out), home=home,
                      env_extra={"CERTBENCH_KEY_PASSPHRASE": "x"})
    assert again.returncode == 3 and "never overwrites" in again.stderr


def test_bad_cn_is_refused_with_position(home):
    result = certbench("ca", "local", "issue", "--cn", "mx200 sn1", home=home)
    assert result.returncode == 3
    assert "a space at position 6" in result.stderr


def test_no_usable_keyring_is_said_clearly_and_demo_still_runs(home):
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    result = certbench("ca", "local", "init", home=home, env_extra=env)
    assert result.returncode == 7
    assert "No usable OS keyring" in result.stderr
    assert certbench("demo", "--units", "1", home=home, env_extra=env).returncode == 0
