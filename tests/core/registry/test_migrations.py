"""The schema comes only from the Alembic migrations shipped in the package: an empty
database is brought to the newest revision, the result matches the models exactly, and a
database from a newer Certbench is refused."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from certbench.core import paths
from certbench.core.registry import SchemaTooNew, open_registry
from certbench.core.registry import db as registry_db
from certbench.core.registry.models import Base


def test_upgrade_from_empty_database(registry_url):
    with open_registry(registry_url, migrate=False) as empty:
        assert registry_db.current_revisions(empty.engine) == set()
        assert not set(inspect(empty.engine).get_table_names()) & {"units", "audit_events"}
    with open_registry(registry_url) as registry:
        assert registry_db.current_revisions(registry.engine) == registry_db.head_revisions() == {"0002"}
        tables = set(inspect(registry.engine).get_table_names())
        assert {"units", "certificates", "audit_events", "audit_head", "alembic_version"} <= tables
        assert registry.head() == (0, "0" * 64)
        assert registry.verify().ok
    # Opening again is a no-op, not a second migration.
    with open_registry(registry_url) as registry:
        assert registry_db.current_revisions(registry.engine) == {"0002"}


def test_upgrade_keeps_data_from_an_older_revision(registry_url, actor):
    from alembic import command

    with open_registry(registry_url, migrate=False) as registry, registry_db.writer(registry.engine).begin() as conn:
        config = registry_db.alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    with open_registry(registry_url, migrate=False) as old:
        assert registry_db.current_revisions(old.engine) == {"0001"}
        old.reserve("SN1", "MX-200", None, "mx-200-sn1", actor=actor)
    with open_registry(registry_url) as registry:
        assert registry_db.current_revisions(registry.engine) == registry_db.head_revisions()
        assert registry.get_unit("mx-200-sn1").serial == "SN1"
        assert "ix_units_updated_at" in {i["name"] for i in inspect(registry.engine).get_indexes("units")}
        assert registry.verify().ok


def test_models_and_migrations_agree(registry_url):
    with open_registry(registry_url) as registry, registry.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
        assert diff == [], diff
        # compare_metadata does not look at CHECK constraints or partial indexes: check them by name.
        inspector = inspect(conn)
        checks = {c["name"] for t in ("units", "certificates", "audit_events") for c in inspector.get_check_constraints(t)}
        assert {"ck_units_state", "ck_units_cn_after_scan", "ck_certificates_status", "ck_audit_events_outcome"} <= checks
        live = [i for i in inspector.get_indexes("certificates") if i["name"] == "uq_certificates_live_unit"]
        assert live and live[0]["unique"]


def test_sqlite_file_is_in_the_data_folder_and_uses_wal():
    with open_registry(None) as registry:
        assert registry.backend == "sqlite"
        assert registry.location.endswith("certbench.db")
        assert (paths.data_dir() / "certbench.db").is_file()
        with registry.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_schema_from_a_newer_certbench_is_refused(registry_url):
    with open_registry(registry_url) as registry, registry.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaTooNew) as info:
        open_registry(registry_url)
    assert "newer Certbench" in info.value.message and info.value.hint


def test_bad_urls_are_explained():
    from certbench.core.errors import ConfigError

    for url in ("mysql://db/certbench", "sqlite://", "postgresql+psycopg2://u@h/db", "::::"):
        with pytest.raises(ConfigError):
            open_registry(url)


def test_unreachable_server_is_a_clear_error_without_the_password():
    from certbench.core.registry import RegistryUnavailable

    with pytest.raises(RegistryUnavailable) as info:
        open_registry("postgresql://certbench:hunter2-secret@127.0.0.1:1/certbench")
    assert "hunter2-secret" not in str(info.value)
    assert "127.0.0.1" in info.value.message and info.value.hint
