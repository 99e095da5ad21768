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


def _ca_chain(inter_days: int, *, leaf_org: str = "MediCorp"):
    """root -> intermediate (valid `inter_days` more days) -> leaf; PEM text of leaf+intermediate, root."""
    from datetime import datetime, timedelta, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(timezone.utc)

    def cert(cn, key, issuer_name, issuer_key, days, ca, org="MediCorp"):
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name or name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(True, False, False, False, False, ca, ca, False, False), critical=True))
        if not ca:
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(3)]
    root = cert("Test Root", keys[0], None, keys[0], 3650, True)
    inter = cert("Test Issuing CA", keys[1], root.subject, keys[0], inter_days, True)
    leaf = cert("mx200-sn7", keys[2], inter.subject, keys[1], min(inter_days, 365), False, org=leaf_org)
    return to_pem([leaf, inter]), to_pem([root])


def test_verify_chain_shows_an_expiring_intermediate(home, tmp_path):
    chain, root = _ca_chain(30)
    (tmp_path / "leaf.pem").write_text(chain)
    (tmp_path / "root.pem").write_text(root)
    args = ("cert", "verify-chain", str(tmp_path / "leaf.pem"), "--ca", str(tmp_path / "root.pem"))
    result = certbench(*args, home=home, env_extra={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert "VALID" in result.stdout and "Warning: 'Test Issuing CA' expires in" in result.stdout
    data = json.loads(certbench(*args, "--json", home=home).stdout)
    assert data["valid"] and data["partial_chain"] is False
    assert len(data["warnings"]) == 1 and "Test Issuing CA" in data["warnings"][0]


def test_certificate_text_is_printed_as_it_is(home, tmp_path):
    # Names from a certificate are data: rich markup or emoji codes in them must show verbatim.
    odd = "[bold]Lab[/] :cd: Ops"
    chain, _ = _ca_chain(400, leaf_org=odd)
    (tmp_path / "odd.pem").write_text(chain)
    result = certbench("cert", "inspect", str(tmp_path / "odd.pem"), home=home, env_extra={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert odd in result.stdout
    fingerprints = [s["sha256_fingerprint"] for s in json.loads(
        certbench("cert", "inspect", str(tmp_path / "odd.pem"), "--json", home=home).stdout)]
    assert all(f in result.stdout for f in fingerprints)


def test_local_issue_refuses_before_issuing_and_leaves_nothing(home, tmp_path):
    env = {"CERTBENCH_KEY_PASSPHRASE": "correct horse", "COLUMNS": "400"}  # messages on one line
    missing = tmp_path / "no-such-folder"
    result = certbench("ca", "local", "issue", "--cn", "mx200-sn9", "--key-out", str(missing / "k.pem"),
                       "--cert-out", str(tmp_path / "c.pem"), home=home, env_extra=env)
    assert result.returncode == 3 and f"The folder {missing} does not exist" in result.stderr
    assert not (tmp_path / "c.pem").exists()

    # Unknown intermediate and key type are refused before the passphrase is asked.
    result = certbench("ca", "local", "issue", "--cn", "mx200-sn9", "-i", "nope", "--key-out",
                       str(tmp_path / "k.pem"), home=home, input="", env_extra={"COLUMNS": "400"})
    assert result.returncode == 3 and "no intermediate named 'nope'" in result.stderr
    assert "medicorp-ica-1" in result.stderr and "Passphrase" not in result.stdout
    result = certbench("ca", "local", "issue", "--cn", "mx200-sn9", "--key-type", "dsa-1024", "--key-out",
                       str(tmp_path / "k.pem"), home=home, input="", env_extra={"COLUMNS": "400"})
    assert result.returncode == 3 and "Unsupported key type" in result.stderr

    # A chain that cannot be written (here: a name too long for the file system) takes the
    # key file with it.
    # (A fresh home: the CA made above kept its passphrase in that process's keyring.)
    out, home2 = tmp_path / "out", tmp_path / "home2"
    out.mkdir()
    result = certbench("ca", "local", "issue", "--cn", "mx200-sn9", "--key-out", str(out / "k.pem"),
                       "--cert-out", str(out / ("c" * 300 + ".pem")), home=home2, env_extra=env)
    assert result.returncode == 3 and "Could not write" in result.stderr and "nothing was saved" in result.stderr
    assert not list(out.iterdir())
    assert not list(tmp_path.glob("*.pem"))


def test_local_ca_whose_passphrase_is_not_in_the_keyring(home):
    # Each run has its own empty in-memory keyring: the second finds the CA but not its passphrase.
    assert certbench("ca", "local", "init", home=home).returncode == 0
    result = certbench("ca", "local", "issue", "--cn", "mx200-sn9", home=home, env_extra={"COLUMNS": "400"})
    assert result.returncode == 7 and "passphrase is not in this user's OS keyring" in result.stderr
    assert "ca local init" in result.stderr


def test_config_check_reports_what_the_settings_still_need(home, tmp_path):
    wide = {"COLUMNS": "400"}
    result = certbench("config", "check", home=home, env_extra=wide)
    assert result.returncode == 0, result.stderr
    assert "embedded defaults" in result.stdout and "Everything these settings need is in place" in result.stdout

    (home / "config").mkdir(exist_ok=True)
    (home / "config" / "certbench.toml").write_text(
        f'[iotcentral]\nsubdomain = "medicorp"\nca_file = "{tmp_path / "gone.pem"}"\n')
    result = certbench("config", "check", home=home, env_extra=wide)
    assert result.returncode == 1
    assert f"Setting 'iotcentral.ca_file' names {tmp_path / 'gone.pem'}, which does not exist." in result.stdout
    assert "certbench config set-secret iotcentral-api-token" in result.stdout
    data = json.loads(certbench("config", "check", "--json", home=home).stdout)
    assert data["ok"] is False and data["valid"] is True and data["secrets_needed"] == ["iotcentral-api-token"]
    assert len(data["problems"]) == 2


def test_config_check_json_on_invalid_settings_and_hints_keep_brackets(home):
    (home / "config").mkdir(exist_ok=True)
    (home / "config" / "certbench.toml").write_text("bench = 3\n")
    result = certbench("config", "check", "--json", home=home)
    assert result.returncode == 4
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["valid"] is False and "'bench' must be a table" in data["error"]
    # The hint quotes a TOML table header; printed for people it must not vanish as markup.
    result = certbench("config", "check", home=home, env_extra={"COLUMNS": "400"})
    assert result.returncode == 4 and "Write it as [bench] with keys below it." in result.stderr


def test_verify_chain_without_anchor_or_with_a_mixed_file(home, tmp_path):
    chain, root = _ca_chain(400)
    other, _ = _ca_chain(400)
    (tmp_path / "leaf.pem").write_text(chain)
    # No --ca and no local CA: refused, and nothing is created by looking.
    result = certbench("cert", "verify-chain", str(tmp_path / "leaf.pem"), home=home, env_extra={"COLUMNS": "400"})
    assert result.returncode == 3 and "no local CA to default to" in result.stderr
    assert not (home / "data" / "local-ca").exists()
    # Certificates of two chains in one file are an invalid chain (exit 1), told in JSON too.
    (tmp_path / "mixed.pem").write_text(chain + other)
    (tmp_path / "root.pem").write_text(root)
    result = certbench("cert", "verify-chain", str(tmp_path / "mixed.pem"), "--ca", str(tmp_path / "root.pem"),
                       "--json", home=home)
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["valid"] is False and data["reason"]
