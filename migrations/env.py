"""Alembic environment: runs on the connection questlog hands it (see questlog.schema)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - questlog always passes its own connection
    raise RuntimeError("run migrations through `questlog migrate`, which supplies the connection")

context.configure(connection=connection, target_metadata=None, render_as_batch=True,
                  transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
