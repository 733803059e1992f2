"""The event log, stream versions, projector checkpoints, snapshots, embedding cache.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATEMENTS = [
    # position is the rowid: global, gapless (one writer assigns max+1), increasing.
    """CREATE TABLE events (
        position INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        stream_id TEXT NOT NULL,
        stream_version INTEGER NOT NULL CHECK (stream_version >= 1),
        category TEXT NOT NULL,
        type TEXT NOT NULL,
        schema_version INTEGER NOT NULL DEFAULT 1,
        data TEXT NOT NULL,
        metadata TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        hash TEXT NOT NULL,
        UNIQUE (stream_id, stream_version)
    )""",
    "CREATE INDEX ix_events_type ON events (type, position)",
    "CREATE INDEX ix_events_category ON events (category, position)",
    # The log is append-only; these make an accidental UPDATE/DELETE fail loudly.
    """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
       BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""",
    """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
       BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""",
    """CREATE TABLE streams (
        stream_id TEXT PRIMARY KEY,
        category TEXT NOT NULL,
        version INTEGER NOT NULL,
        last_position INTEGER NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX ix_streams_category ON streams (category)",
    """CREATE TABLE projector_checkpoints (
        name TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        mode TEXT NOT NULL,
        position INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'live',
        updated_at TEXT NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        error_position INTEGER,
        rebuild_version INTEGER,
        rebuild_position INTEGER,
        rebuild_suffix TEXT,
        rebuild_started_at TEXT
    ) WITHOUT ROWID""",
    """CREATE TABLE snapshots (
        stream_id TEXT NOT NULL,
        aggregate TEXT NOT NULL,
        aggregate_version INTEGER NOT NULL,
        stream_version INTEGER NOT NULL,
        position INTEGER NOT NULL,
        state TEXT NOT NULL,
        taken_at TEXT NOT NULL,
        PRIMARY KEY (stream_id, aggregate, aggregate_version)
    ) WITHOUT ROWID""",
    """CREATE TABLE embedding_cache (
        model_id TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        dim INTEGER NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (model_id, text_hash)
    ) WITHOUT ROWID""",
]


def upgrade() -> None:
    for statement in _statements(STATEMENTS):
        op.execute(statement)


def _statements(sqlite: list[str]) -> list[str]:
    """This revision's statements for the store's engine (PostgreSQL's are its package's)."""
    if op.get_bind().dialect.name == "postgresql":
        from questlog.postgres.schema import STATEMENTS as POSTGRES

        return POSTGRES[revision]
    return sqlite


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        from questlog.postgres.schema import DOWNGRADES

        for statement in DOWNGRADES[revision]:
            op.execute(statement)
        return
    for table in ("embedding_cache", "snapshots", "projector_checkpoints", "streams"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute("DROP TRIGGER IF EXISTS events_no_update")
    op.execute("DROP TRIGGER IF EXISTS events_no_delete")
    op.execute("DROP TABLE IF EXISTS events")
