"""The registry's tables. Alembic migrations (migrations/versions/) create exactly this
schema; tests/core/registry/test_migrations.py keeps the two in step.

Nothing secret has a column here: a unit is identified by public facts (serial, model, GTIN,
CN), a certificate by public facts (serial, fingerprints, validity, order id, DER).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

UNIT_STATES = (
    "scanned", "cn_reserved", "key_ready", "cert_ordered", "cert_issued", "installed",
    "verified", "registered", "done", "failed", "rolled_back", "revoked",
)
CERT_STATUSES = ("ordered", "issued", "installed", "revoked", "superseded", "rejected")
# A unit has at most one certificate in one of these at a time ("never ordered twice").
LIVE_CERT_STATUSES = ("ordered", "issued", "installed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# Timestamps are UTC. SQLite stores them without a zone; the registry treats every naive
# value it reads back as UTC.
UTC_DATETIME = DateTime(timezone=True)


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL only while `scanned`; unique across every bench sharing the database.
    cn: Mapped[str | None] = mapped_column(String(64), unique=True)
    serial: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(64))
    gtin: Mapped[str | None] = mapped_column(String(14))
    state: Mapped[str] = mapped_column(String(16))
    # The state a failed unit was in, so a retry resumes exactly there.
    failed_from: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(Text)
    # Starts at 1; each re-provision adds one and supersedes the previous certificate.
    generation: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    firmware: Mapped[str | None] = mapped_column(String(64))
    # Who reserved the unit (its holder), and who touched it last.
    operator: Mapped[str] = mapped_column(String(64))
    workstation: Mapped[str] = mapped_column(String(64))
    last_operator: Mapped[str] = mapped_column(String(64))
    last_workstation: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTC_DATETIME)
    updated_at: Mapped[datetime] = mapped_column(UTC_DATETIME)

    __table_args__ = (
        UniqueConstraint("model", "serial"),
        CheckConstraint(_in("state", UNIT_STATES), name="state"),
        CheckConstraint("cn IS NOT NULL OR state IN ('scanned', 'failed', 'rolled_back')", name="cn_after_scan"),
        Index(None, "state"),
        Index(None, "updated_at"),
    )


class Certificate(Base):
    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    generation: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    # The configured name of the issuing intermediate CA, and its subject once issued.
    intermediate: Mapped[str] = mapped_column(String(128))
    issuer_dn: Mapped[str | None] = mapped_column(String(512))
    order_id: Mapped[str] = mapped_column(String(128))
    serial_number: Mapped[str | None] = mapped_column(String(64))  # hex, lower case
    sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    sha1: Mapped[str | None] = mapped_column(String(40))
    not_before: Mapped[datetime | None] = mapped_column(UTC_DATETIME)
    not_after: Mapped[datetime | None] = mapped_column(UTC_DATETIME)
    der: Mapped[bytes | None] = mapped_column(LargeBinary)
    ordered_at: Mapped[datetime] = mapped_column(UTC_DATETIME)
    issued_at: Mapped[datetime | None] = mapped_column(UTC_DATETIME)
    installed_at: Mapped[datetime | None] = mapped_column(UTC_DATETIME)
    ended_at: Mapped[datetime | None] = mapped_column(UTC_DATETIME)
    end_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("intermediate", "order_id"),
        UniqueConstraint("issuer_dn", "serial_number"),
        CheckConstraint(_in("status", CERT_STATUSES), name="status"),
        Index(None, "unit_id"),
        Index(
            "uq_certificates_live_unit", "unit_id", unique=True,
            sqlite_where=text(_in("status", LIVE_CERT_STATUSES)),
            postgresql_where=text(_in("status", LIVE_CERT_STATUSES)),
        ),
    )


class AuditEvent(Base):
    """One link of the hash chain. Rows are only ever inserted (database triggers refuse
    UPDATE and DELETE); `seq` is dense, starting at 1, and is the chain order."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTC_DATETIME)
    event: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))
    workstation: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(256))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)  # canonical JSON, hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint("outcome IN ('ok', 'failed', 'refused')", name="outcome"),
        Index(None, "unit_id"),
        Index(None, "occurred_at"),
    )


class AuditHead(Base):
    """The chain's last link (one row). Appending locks it, so events from several benches
    form one chain; it also shows when rows were cut off the end."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)
