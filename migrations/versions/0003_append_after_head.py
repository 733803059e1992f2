"""PostgreSQL: the writer's one-round-trip batch, `questlog_append_after`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

A server-side function the writer calls in autocommit: it takes the log's
transaction-scoped advisory lock, checks that the head is still the one the
batch was planned after, and only then inserts the batch (see
`questlog.postgres.schema` and `questlog.postgres.transactions`). SQLite needs
nothing: an autocommit INSERT takes its write lock already.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        from questlog.postgres.schema import STATEMENTS

        for statement in STATEMENTS[revision]:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        from questlog.postgres.schema import DOWNGRADES

        for statement in DOWNGRADES[revision]:
            op.execute(statement)
