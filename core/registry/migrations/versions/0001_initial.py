"""Units, certificates, the audit chain and its head; audit rows are append-only.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
UNIT_STATES = (
    "scanned", "cn_reserved", "key_ready", "cert_ordered", "cert_issued", "installed",
    "verified", "registered", "done", "failed", "rolled_back", "revoked",
)
CERT_STATUSES = ("ordered", "issued", "installed", "revoked", "superseded", "rejected")
LIVE = "status IN ('ordered', 'issued', 'installed')"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# Names are final (op.f): the models' naming convention would otherwise prefix them again.


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cn", sa.String(64), nullable=True),
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("gtin", sa.String(14), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("failed_from", sa.String(16), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("generation", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("firmware", sa.String(64), nullable=True),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("workstation", sa.String(64), nullable=False),
        sa.Column("last_operator", sa.String(64), nullable=False),
        sa.Column("last_workstation", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("cn", name=op.f("uq_units_cn")),
        sa.UniqueConstraint("model", "serial", name=op.f("uq_units_model_serial")),
        sa.CheckConstraint(_in("state", UNIT_STATES), name=op.f("ck_units_state")),
        sa.CheckConstraint(
            "cn IS NOT NULL OR state IN ('scanned', 'failed', 'rolled_back')", name=op.f("ck_units_cn_after_scan")
        ),
    )
    op.create_index(op.f("ix_units_state"), "units", ["state"])

    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("intermediate", sa.String(128), nullable=False),
        sa.Column("issuer_dn", sa.String(512), nullable=True),
        sa.Column("order_id", sa.String(128), nullable=False),
        sa.Column("serial_number", sa.String(64), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("sha1", sa.String(40), nullable=True),
        sa.Column("not_before", TS, nullable=True),
        sa.Column("not_after", TS, nullable=True),
        sa.Column("der", sa.LargeBinary(), nullable=True),
        sa.Column("ordered_at", TS, nullable=False),
        sa.Column("issued_at", TS, nullable=True),
        sa.Column("installed_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_certificates_unit_id_units")),
        sa.UniqueConstraint("intermediate", "order_id", name=op.f("uq_certificates_intermediate_order_id")),
        sa.UniqueConstraint("issuer_dn", "serial_number", name=op.f("uq_certificates_issuer_dn_serial_number")),
        sa.UniqueConstraint("sha256", name=op.f("uq_certificates_sha256")),
        sa.CheckConstraint(_in("status", CERT_STATUSES), name=op.f("ck_certificates_status")),
    )
    op.create_index(op.f("ix_certificates_unit_id"), "certificates", ["unit_id"])
    op.create_index(
        op.f("uq_certificates_live_unit"), "certificates", ["unit_id"], unique=True,
        sqlite_where=sa.text(LIVE), postgresql_where=sa.text(LIVE),
    )

    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("workstation", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(256), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_audit_events_unit_id_units")),
        sa.CheckConstraint("outcome IN ('ok', 'failed', 'refused')", name=op.f("ck_audit_events_outcome")),
    )
    op.create_index(op.f("ix_audit_events_unit_id"), "audit_events", ["unit_id"])
    op.create_index(op.f("ix_audit_events_occurred_at"), "audit_events", ["occurred_at"])

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
    )
    op.execute(sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :genesis)").bindparams(genesis="0" * 64))

    # Defence in depth: the chain detects edits; the triggers stop casual ones.
    if op.get_context().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{action.lower()} BEFORE {action} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
            )
        op.execute(
            "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
            "BEGIN SELECT RAISE(ABORT, 'audit_head cannot be deleted'); END"
        )
    else:
        op.execute(
            "CREATE FUNCTION certbench_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION certbench_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION certbench_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_head_no_delete BEFORE DELETE OR TRUNCATE ON audit_head "
            "FOR EACH STATEMENT EXECUTE FUNCTION certbench_append_only()"
        )


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        op.execute("DROP TABLE audit_head, audit_events, certificates, units CASCADE")
        op.execute("DROP FUNCTION IF EXISTS certbench_append_only()")
        return
    op.drop_table("audit_head")
    op.drop_table("audit_events")
    op.drop_table("certificates")
    op.drop_table("units")
