"""Opening the registry database: which URL, engine settings per backend, and bringing the
schema up to date with the Alembic migrations shipped inside this package.

SQLite (one bench): a file in the data directory, WAL journal so readers never block the
writer, `synchronous=FULL` so a committed step survives a power cut, and every writing
transaction starts with BEGIN IMMEDIATE so two writers queue instead of failing half way.
PostgreSQL (several benches): psycopg 3, with connect, statement and lock timeouts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from certbench.core import paths, secrets
from certbench.core.errors import ConfigError
from certbench.core.registry.errors import RegistryUnavailable, SchemaTooNew

DEFAULT_FILENAME = "certbench.db"
URL_ENV = "CERTBENCH_REGISTRY_URL"
# Keyring entry holding the PostgreSQL password when the URL carries none.
REGISTRY_PASSWORD = secrets.REGISTRY_PASSWORD

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
CONNECT_TIMEOUT_S = 10
STATEMENT_TIMEOUT_MS = 30_000
LOCK_TIMEOUT_MS = 20_000
SQLITE_BUSY_TIMEOUT_S = 30
# pg_advisory_xact_lock key: benches starting together migrate one after the other.
_MIGRATION_LOCK = 0x43_42_52_45_47  # "CBREG"


def default_url() -> str:
    return URL.create("sqlite", database=str(paths.data_dir() / DEFAULT_FILENAME)).render_as_string()


def resolve_url(url: str | None) -> URL:
    """The SQLAlchemy URL for `url` (None or empty: the default SQLite file)."""
    raw = (url or "").strip() or default_url()
    try:
        parsed = make_url(raw)
    except ArgumentError:
        raise ConfigError(
            "The registry URL is not a valid database URL.",
            "Use e.g. postgresql+psycopg://user@host/certbench, or leave [registry] url empty "
            "for the local SQLite file.",
        ) from None
    backend = parsed.get_backend_name()
    driver = parsed.get_driver_name()
    if backend in ("postgres", "postgresql"):
        if driver not in ("psycopg", "postgres", "postgresql") and "+" in parsed.drivername:
            raise ConfigError(
                f"The registry URL asks for the PostgreSQL driver '{driver}', which Certbench does not ship.",
                "Write the URL as postgresql+psycopg://user@host/database.",
            )
        parsed = parsed.set(drivername="postgresql+psycopg")
        if parsed.password is None and parsed.username:
            password = secrets.get_secret(REGISTRY_PASSWORD)
            if password:
                parsed = parsed.set(password=password)
        return parsed
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ConfigError(
                "The registry URL names an in-memory SQLite database, which would forget every unit.",
                "Leave [registry] url empty for the local file, or give a file path (sqlite:///C:/path/certbench.db).",
            )
        return parsed.set(drivername="sqlite")
    raise ConfigError(
        f"The registry URL uses '{backend}', which Certbench does not support.",
        "Use SQLite (leave [registry] url empty) or PostgreSQL (postgresql+psycopg://...).",
    )


def describe(url: URL) -> str:
    """The URL without its password, for messages."""
    return url.render_as_string(hide_password=True)


def create_registry_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return _postgres_engine(url)


def _sqlite_engine(url: URL) -> Engine:
    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take over transaction control from the sqlite3 module (it would otherwise BEGIN
        # lazily, after reads, and fail with "database is locked" on upgrade to a write).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("certbench_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _postgres_engine(url: URL) -> Engine:
    query = dict(url.query)
    extra = query.pop("options", "")
    if isinstance(extra, tuple):
        extra = " ".join(extra)
    options = (
        f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={LOCK_TIMEOUT_MS} "
        f"-c idle_in_transaction_session_timeout=300000 {extra}"
    ).strip()
    return create_engine(
        url.set(query=query),
        pool_pre_ping=True,
        pool_size=2,
        max_overflow=4,
        pool_timeout=CONNECT_TIMEOUT_S,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "options": options,
                      "application_name": "certbench"},
    )


def writer(engine: Engine) -> Engine:
    """The same pool, for transactions that write (SQLite: BEGIN IMMEDIATE)."""
    return engine.execution_options(certbench_write=True)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def upgrade(engine: Engine, url: URL) -> None:
    """Bring the schema to the newest revision this Certbench knows (no-op when it is)."""
    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    heads = set(script.get_heads())
    try:
        if current_revisions(engine) == heads:
            return
        with writer(engine).begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            current = set(MigrationContext.configure(conn).get_current_heads())
            known = {rev.revision for rev in script.walk_revisions()}
            if current - known:
                raise SchemaTooNew(
                    f"The registry database at {describe(url)} was upgraded by a newer Certbench "
                    f"(schema {', '.join(sorted(current - known))}).",
                    "Install the same Certbench version as the other benches, then start again.",
                )
            if current != heads:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
    except DBAPIError as exc:
        raise unavailable(url, exc) from None


def unavailable(url: URL, exc: SQLAlchemyError) -> RegistryUnavailable:
    detail = str(getattr(exc, "orig", exc) or type(exc).__name__).strip().splitlines()[0]
    if url.password:
        detail = detail.replace(url.password, "***")
    if url.get_backend_name() == "sqlite":
        hint = ("Check that the file is this bench's registry (Settings > Registry), that no other "
                "program holds it open, and that it is not damaged (restore it from the backup if it is); "
                "nothing was recorded by the failed step.")
    else:
        hint = ("Check that the database server is running and reachable from this bench and that the "
                "URL in Settings > Registry is right; nothing was recorded by the failed step.")
    return RegistryUnavailable(f"The registry database at {describe(url)} failed: {secrets.redact(detail)}", hint)


def url_from_environment() -> str | None:
    return os.environ.get(URL_ENV) or None
