"""Index units by last change: History and the dashboard list units most recently changed
first, which must stay instant with millions of units.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_units_updated_at"), "units", ["updated_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_units_updated_at"), table_name="units")
