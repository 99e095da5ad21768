"""Registry fixtures: every test runs against SQLite and, in the PostgreSQL tier, against a
real PostgreSQL server, each test in a fresh database (SQLite file / PostgreSQL schema).

The PostgreSQL server comes from CERTBENCH_TEST_PG_URL (CI starts one with
.ci/start-postgres.sh). When the variable is unset but PostgreSQL's server binaries are
installed, a throw-away cluster is started for the session with the same script.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from certbench.core.registry import Actor, open_registry

ROOT = Path(__file__).resolve().parents[3]
START_SCRIPT = ROOT / ".ci" / "start-postgres.sh"
PG_ENV = "CERTBENCH_TEST_PG_URL"


def _server_binaries() -> bool:
    return bool(shutil.which("pg_ctl") or glob.glob("/usr/lib/postgresql/*/bin/initdb"))


@pytest.fixture(scope="session")
def pg_server_url():
    url = os.environ.get(PG_ENV)
    if url:
        yield url
        return
    if os.name == "nt" or not _server_binaries() or not START_SCRIPT.exists():
        pytest.skip(f"PostgreSQL tier: {PG_ENV} is not set and no PostgreSQL server binaries were found "
                    "(install the 'postgresql' package or run .ci/start-postgres.sh and export its line)")
    base = tempfile.mkdtemp(prefix="certbench-pg-")
    result = subprocess.run([str(START_SCRIPT)], env=dict(os.environ, CERTBENCH_PG_DIR=base),
                            capture_output=True, text=True, timeout=180)
    line = result.stdout.strip()
    if result.returncode != 0 or not line.startswith(f"export {PG_ENV}="):
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"PostgreSQL tier: could not start a throw-away cluster: {result.stderr.strip()[-400:]}")
    try:
        yield line.split("=", 1)[1]
    finally:
        subprocess.run([str(START_SCRIPT), "--stop", base], capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server_url):
    """A URL whose connections see only a fresh, empty schema."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(pg_server_url)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = make_url(pg_server_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'registry.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def registry_url(request):
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def registry(registry_url):
    reg = open_registry(registry_url)
    yield reg
    reg.close()


@pytest.fixture
def actor():
    return Actor("jdoe", "BENCH-01")


class TinyCA:
    """Just enough CA to give units real certificates (independent of core/pki)."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Registry Test Intermediate")])

    def issue(self, cn: str, public_key=None) -> x509.Certificate:
        now = dt.datetime.now(dt.UTC)
        public_key = public_key or ec.generate_private_key(ec.SECP256R1()).public_key()
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(self.name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365))
            .sign(self.key, hashes.SHA256())
        )


@pytest.fixture(scope="session")
def tiny_ca():
    return TinyCA()
