"""`certbench units` and `certbench audit`, run as a real process the way a technician or an
auditor would, against both engines."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest
from registry_helpers import drive_to
from sqlalchemy import text

from certbench.core.registry import Actor, UnitState, open_registry

S = UnitState


def certbench(*args, home, env_extra=None):
    env = dict(os.environ, CERTBENCH_HOME=str(home), PYTHON_KEYRING_BACKEND="certbench.core.secrets.MemoryKeyring")
    env.pop("CERTBENCH_REGISTRY_URL", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "certbench.core", *args], capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.fixture
def populated(registry_url, tiny_ca):
    with open_registry(registry_url) as registry:
        done = drive_to(registry, S.DONE, Actor("alice", "BENCH-A"), tiny_ca)
        failed = drive_to(registry, S.FAILED, Actor("bob", "BENCH-B"), tiny_ca)
        registry.audit("ca.verified", actor=Actor("carol", "BENCH-C"), subject="ica-site-a")
        head = registry.head()
    return registry_url, done, failed, head


def test_units_list_and_show(populated, certbench_home):
    url, done, failed, _ = populated
    result = certbench("units", "list", "--db", url, "--json", home=certbench_home)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert listed["total"] == 2 and {u["cn"] for u in listed["units"]} == {done.cn, failed.cn}

    result = certbench("units", "list", "--state", "failed", home=certbench_home,
                       env_extra={"CERTBENCH_REGISTRY_URL": url})
    assert result.returncode == 0 and failed.cn in result.stdout and done.cn not in result.stdout

    result = certbench("units", "show", done.cn, "--db", url, "--json", home=certbench_home)
    shown = json.loads(result.stdout)
    assert shown["unit"]["state"] == "done" and shown["unit"]["workstation"] == "BENCH-A"
    assert shown["certificates"][0]["status"] == "installed" and len(shown["certificates"][0]["sha256"]) == 64
    assert [e["event"] for e in shown["events"]][-1] == "unit.done"

    result = certbench("units", "show", failed.cn, "--db", url, home=certbench_home)
    assert result.returncode == 0 and "instrument stopped answering" in result.stdout and "collect" in result.stdout

    result = certbench("units", "show", "no-such-cn", "--db", url, home=certbench_home)
    assert result.returncode == 3 and "No unit 'no-such-cn'" in result.stderr


def test_audit_verify_reports_the_broken_row(populated, certbench_home):
    url, _, _, head = populated
    result = certbench("audit", "verify", "--db", url, home=certbench_home)
    assert result.returncode == 0, result.stderr
    assert "intact" in result.stdout and head[1] in result.stdout
    anchor = f"{head[0]}:{head[1]}"
    assert certbench("audit", "verify", "--db", url, "--anchor", anchor, home=certbench_home).returncode == 0

    with open_registry(url) as registry, registry.engine.begin() as conn:
        if registry.backend == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
        else:
            conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
        conn.execute(text("UPDATE audit_events SET outcome = 'ok' WHERE event = 'unit.failed'"))
        seq = conn.execute(text("SELECT seq FROM audit_events WHERE event = 'unit.failed'")).scalar_one()
    result = certbench("audit", "verify", "--db", url, "--json", home=certbench_home)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["broken"]["seq"] == seq and report["events"] == seq - 1
    assert report["broken"]["row"]["event"] == "unit.failed"
    result = certbench("audit", "verify", "--db", url, home=certbench_home)
    assert result.returncode == 1 and f"BROKEN at row {seq}" in result.stdout


def test_audit_export_csv_json_since(populated, certbench_home, tmp_path):
    url, *_ = populated
    result = certbench("audit", "export", "--csv", "--db", url, home=certbench_home)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [int(r["seq"]) for r in rows] == list(range(1, len(rows) + 1))
    assert rows[-1]["event"] == "ca.verified" and rows[-1]["actor"] == "carol"

    out = tmp_path / "audit.json"
    result = certbench("audit", "export", "--json", "-o", str(out), "--db", url, home=certbench_home)
    assert result.returncode == 0 and f"Exported {len(rows)} events" in result.stderr
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert [e["hash"] for e in exported["events"]] == [r["hash"] for r in rows]
    assert certbench("audit", "verify", "--export", str(out), home=certbench_home).returncode == 0
    exported["events"][3]["actor"] = "mallory"
    out.write_text(json.dumps(exported), encoding="utf-8")
    result = certbench("audit", "verify", "--export", str(out), "--json", home=certbench_home)
    assert result.returncode == 1 and json.loads(result.stdout)["broken"]["seq"] == 4

    since = rows[-1]["occurred_at"]
    result = certbench("audit", "export", "--json", "--since", since, "--db", url, home=certbench_home)
    recent = json.loads(result.stdout)["events"]
    assert recent and recent[-1]["seq"] == len(rows) and all(e["occurred_at"] >= since for e in recent)
    result = certbench("audit", "export", "--json", "--since", "yesterday", "--db", url, home=certbench_home)
    assert result.returncode == 2 and "not a date" in result.stderr
    assert certbench("audit", "export", "--db", url, home=certbench_home).returncode == 2


def test_default_registry_and_missing_registry(certbench_home, tiny_ca):
    result = certbench("audit", "verify", home=certbench_home)
    assert result.returncode == 3 and "no registry database" in result.stderr.lower()
    assert not (certbench_home / "data" / "certbench.db").exists()  # looking did not create one
    with open_registry(None) as registry:  # the bench's own file in the data folder
        drive_to(registry, S.CN_RESERVED, Actor("alice", "BENCH-A"), tiny_ca)
    result = certbench("units", "list", "--json", home=certbench_home)
    assert result.returncode == 0 and json.loads(result.stdout)["total"] == 1


def test_units_show_reads_like_a_record(populated, certbench_home):
    url, done, _, _ = populated
    # Typed or scanned in capitals: CNs are lowercase in the registry.
    result = certbench("units", "show", f"  {done.cn.upper()} ", "--db", url, home=certbench_home,
                       env_extra={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    with open_registry(url) as registry:
        (cert,) = registry.certificates(done.cn)
    # The status is printed (it was once swallowed as a markup tag), and the thumbprint in
    # IoT Central's form next to the SHA-256 fingerprint.
    assert f"certificate gen 1: {cert.status} via {cert.intermediate}" in result.stdout
    assert cert.sha1.upper() in result.stdout and cert.sha256 in result.stdout


def test_unreadable_registry_is_a_service_error_not_a_fault(certbench_home, tmp_path):
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("shopping list\n" * 200)
    result = certbench("units", "list", "--db", f"sqlite:///{not_a_db}", home=certbench_home)
    assert result.returncode == 5, result.stderr
    assert "file is not a database" in result.stderr and "Traceback" not in result.stderr
    assert "not damaged" in result.stderr and "fault in Certbench" not in result.stderr
    assert not_a_db.read_text() == "shopping list\n" * 200

    result = certbench("audit", "verify", "--db", "postgresql+psycopg://certbench@127.0.0.1:1/certbench",
                       home=certbench_home)
    assert result.returncode == 5 and "127.0.0.1" in result.stderr and "server is running" in result.stderr


def test_bad_registry_url_hint_keeps_the_setting_name(certbench_home):
    result = certbench("units", "list", "--db", "mysql://db/certbench", home=certbench_home)
    assert result.returncode == 4 and "[registry] url" in result.stderr
