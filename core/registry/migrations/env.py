"""Alembic environment: always run from certbench.core.registry.db.upgrade, which hands over
an open connection inside the transaction (and lock) it holds."""

from __future__ import annotations

from alembic import context

from certbench.core.registry.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "Run registry migrations through certbench (certbench.core.registry.db.upgrade), "
        "not the alembic command: it needs the connection and lock Certbench provides."
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
