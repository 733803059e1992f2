"""The `streams` table follows the log by trigger.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Every event insert moves its stream's row in `streams` to the event's version
and position inside the inserting statement. The writer then writes a batch
with ONE statement (see `questlog.writer`), and no writer, in this process or
another, can append without the stream table following.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TRACK_STREAM = """CREATE TRIGGER events_track_stream AFTER INSERT ON events
BEGIN
    INSERT INTO streams (stream_id, category, version, last_position)
    VALUES (NEW.stream_id, NEW.category, NEW.stream_version, NEW.position)
    ON CONFLICT(stream_id) DO UPDATE SET version = excluded.version,
                                         last_position = excluded.last_position;
END"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        from questlog.postgres.schema import STATEMENTS

        for statement in STATEMENTS[revision]:
            op.execute(statement)
        return
    op.execute(TRACK_STREAM)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        from questlog.postgres.schema import DOWNGRADES

        for statement in DOWNGRADES[revision]:
            op.execute(statement)
        return
    op.execute("DROP TRIGGER IF EXISTS events_track_stream")
