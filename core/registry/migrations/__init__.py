"""Alembic migrations of the registry schema, shipped inside the package so an installed or
bundled Certbench upgrades its database itself (see certbench.core.registry.db.upgrade)."""
