"""`certbench sectigo ...`, `certbench ca fetch` and `certbench emulate sectigo` against the
emulator, as a technician runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import tomli_w
from click.testing import CliRunner
from sectigo_bench import NAMES

from certbench.core import secrets
from certbench.core.errors import CertbenchError, ConfigError
from certbench.core.pki.sectigo.errors import CollectTimeout, SectigoRequestRefused
from certbench.core.x509.csr import csr_to_pem
from certbench.core.x509.identity import make_identity
from certbench.core.x509.parse import load_certificate_file


@pytest.fixture
def cli(bench, tmp_path, monkeypatch):
    from certbench.core.cli import _assemble

    config = {
        "sectigo": {"base_url": bench.base_url, "customer_uri": bench.app.customer_uri, "login": bench.app.login,
                    "ca_file": str(bench.ca_file), "timeout_seconds": 5.0, "poll_limit_seconds": 0.3},
        "intermediates": [
            {"name": n, "source": "sectigo", "profile_id": bench.app.profile_for(n), "org_id": bench.app.org_id,
             "term_days": 365}
            for n in NAMES
        ],
    }
    path = tmp_path / "certbench.toml"
    path.write_text(tomli_w.dumps(config))
    monkeypatch.setenv("CERTBENCH_CONFIG", str(path))
    secrets.set_secret(secrets.SECTIGO_PASSWORD, bench.app.password)
    group = _assemble()
    runner = CliRunner()

    def run(*args, ok=True):
        result = runner.invoke(group, list(args), catch_exceptions=True)
        if ok:
            assert result.exit_code == 0, (result.output, result.exception)
        return result

    return run


def _csr_file(tmp_path, cn="MX200-000042"):
    identity = make_identity(cn, "ec-p256", validate_cn=False)
    path = tmp_path / f"{cn}.csr"
    path.write_text(csr_to_pem(identity.csr))
    return identity, path


def test_profiles(cli, bench):
    data = json.loads(cli("sectigo", "profiles", "--json").stdout)
    assert {p["id"] for p in data} == set(bench.app.profiles)
    assert {p["intermediate"] for p in data if p["intermediate"]} == set(NAMES)
    assert str(bench.app.profile_for(NAMES[0])) in cli("sectigo", "profiles").output


def test_order_then_collect_then_revoke(cli, bench, tmp_path):
    bench.app.pending_collects = 1
    identity, csr = _csr_file(tmp_path)
    ordered = json.loads(cli("sectigo", "order", "--intermediate", NAMES[1], "--csr", str(csr), "--json").stdout)
    order_id = ordered["order_id"]
    assert bench.app.orders[int(order_id)].collects == 0
    out = tmp_path / "chain.pem"
    collected = json.loads(cli("sectigo", "collect", order_id, "--out", str(out), "--json").stdout)
    assert collected["intermediate"] == NAMES[1] and collected["certificate"]["common_name"] == "MX200-000042"
    chain = load_certificate_file(out)
    assert len(chain) == 2 and chain[0].public_key() == identity.key.public_key()
    raw = tmp_path / "raw.p7b"
    cli("sectigo", "collect", order_id, "--format", "bin", "--out", str(raw))
    assert raw.read_bytes()[:1] == b"\x30"
    listed = json.loads(cli("sectigo", "list", "--cn", "MX200-000042", "--json").stdout)
    assert listed["total"] == 1
    assert "Issued" in cli("sectigo", "show", order_id).output
    cli("sectigo", "revoke", "--order", order_id, "--reason", "keyCompromise", "--yes")
    assert bench.app.orders[int(order_id)].revocation_reason == 1
    again = cli("sectigo", "revoke", "--serial", bench.app.orders[int(order_id)].serial_hex, "--yes")
    assert "already revoked; nothing to do" in " ".join(again.stdout.split())
    assert bench.app.orders[int(order_id)].revocation_reason == 1


def test_order_with_wait(cli, bench, tmp_path):
    _, csr = _csr_file(tmp_path, "MX200-000043")
    result = cli("sectigo", "order", "--intermediate", NAMES[0], "--csr", str(csr), "--wait", "--json")
    assert json.loads(result.stdout)["certificate"]["common_name"] == "MX200-000043"
    assert "collecting" in result.stderr


def test_failures_are_typed(cli, bench, tmp_path):
    bench.app.pending_forever = True
    _, csr = _csr_file(tmp_path, "MX200-000044")
    order_id = json.loads(cli("sectigo", "order", "-i", NAMES[0], "--csr", str(csr), "--json").stdout)["order_id"]
    result = cli("sectigo", "collect", order_id, ok=False)
    assert isinstance(result.exception, CollectTimeout) and result.exception.order_id == order_id
    result = cli("sectigo", "collect", order_id, "--no-wait", ok=False)
    assert isinstance(result.exception, CertbenchError), result.exception
    assert "not issued yet" in result.exception.message and f"sectigo collect {order_id}" in result.exception.hint
    result = cli("sectigo", "collect", "99999", ok=False)
    assert "no record" in str(result.exception)
    bench.app.profiles[bench.app.profile_for(NAMES[2])].terms = [730]
    result = cli("sectigo", "order", "-i", NAMES[2], "--csr", str(csr), ok=False)
    assert isinstance(result.exception, SectigoRequestRefused) and result.exception.code == -36


def test_ca_fetch_from_an_order_and_from_a_file(cli, bench, tmp_path):
    result = cli("ca", "fetch", NAMES[3], ok=False)
    assert isinstance(result.exception, ConfigError)
    identity = make_identity("LX5-1", "ec-p256", validate_cn=False)
    bench.client().enroll(org_id=bench.app.org_id, cert_type=bench.app.profile_for(NAMES[3]),
                          csr_pem=csr_to_pem(identity.csr))
    out = tmp_path / "ica4.pem"
    data = json.loads(cli("ca", "fetch", NAMES[3], "--out", str(out), "--json").stdout)
    expected = bench.app.ca.intermediate(NAMES[3]).certificate
    assert load_certificate_file(out)[0] == expected
    assert load_certificate_file(data["saved"])[0] == expected
    cli("ca", "fetch", NAMES[2], "--file", str(out), ok=False)  # ica-4's certificate is already known: refused
    pem = tmp_path / "ica3.pem"
    from certbench.core.x509.parse import to_pem

    pem.write_text(to_pem([bench.app.ca.intermediate(NAMES[2]).certificate]))
    cli("ca", "fetch", NAMES[2], "--file", str(pem))


def test_emulate_sectigo_standalone(tmp_path):
    env = dict(os.environ, CERTBENCH_HOME=str(tmp_path / "home"),
               PYTHON_KEYRING_BACKEND="certbench.core.secrets.MemoryKeyring")
    proc = subprocess.Popen(
        [sys.executable, "-m", "certbench.core", "emulate", "sectigo", "--port", "0", "--state", str(tmp_path / "state"),
         "--json", "--pending-forever", "--fault", "garbage@/types$", "--fault", "429:forever@/customFields",
         "--retry-after", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.poll() is not None else "no output"
        info = json.loads(line)
        assert info["base_url"].startswith("https://127.0.0.1:")
        assert set(info["profiles"]) == set(NAMES) and info["customer_uri"] and info["password"]
        from certbench.core.pki.sectigo.auth import PasswordAuth
        from certbench.core.pki.sectigo.client import SectigoClient

        assert info["faults"] == ["garbage 1x on paths matching /types$",
                                  "429 every request on paths matching /customFields",
                                  "Retry-After 0 s on injected 429/503", "every order stays pending"]
        from certbench.core.http import RetryPolicy
        from certbench.core.pki.sectigo.errors import CertificateNotReady, SectigoResponseError, SectigoUnavailable

        with SectigoClient(info["base_url"], PasswordAuth(info["login"], info["password"], info["customer_uri"]),
                           ca_file=info["ca_file"], timeout=5, retry=RetryPolicy(attempts=2)) as client:
            with pytest.raises(SectigoResponseError):
                client.profiles()  # the maintenance page, once
            ids = {p.id for p in client.profiles()}
            with pytest.raises(SectigoUnavailable):
                client.custom_fields()
            order = client.enroll(org_id=info["org_id"], cert_type=info["profiles"][NAMES[0]],
                                  csr_pem=csr_to_pem(make_identity("MX200-000045", "ec-p256", validate_cn=False).csr))
            with pytest.raises(CertificateNotReady):
                client.collect(order.order_id, "pem")
        assert set(info["profiles"].values()) <= ids
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
