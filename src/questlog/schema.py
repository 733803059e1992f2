"""Schema administration through Alembic: `questlog init` and `questlog migrate`.

Alembic is imported only here, only when a schema command runs; opening a
store compares the stored revision with HEAD_REVISION (a test keeps that
constant equal to Alembic's head).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .db import Database, DBAPIConnection

HEAD_REVISION = "0002"
MIGRATIONS_PACKAGE = "questlog.migrations"


def current_revision(conn: DBAPIConnection) -> str | None:
    """The store's Alembic revision, or None for a file without questlog's schema."""
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='alembic_version'"
    ).fetchone()
    if row is None:
        return None
    rev = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if rev is None else str(rev[0])


def _alembic_config(connection: Any) -> Any:
    import importlib.resources

    from alembic.config import Config

    cfg = Config()
    location = importlib.resources.files(MIGRATIONS_PACKAGE)
    cfg.set_main_option("script_location", str(Path(str(location))))
    cfg.attributes["connection"] = connection
    return cfg


def alembic_head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(None)).get_current_head()
    return str(head)


def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str]:
    """Upgrade the store's schema; returns (revision before, revision after)."""
    from alembic import command

    engine = db.admin_engine()
    try:
        with engine.begin() as connection:
            before = _revision_of(connection)
            command.upgrade(_alembic_config(connection), revision)
            after = _revision_of(connection)
    finally:
        engine.dispose()
    return before, after or HEAD_REVISION


def _revision_of(connection: Any) -> str | None:
    from sqlalchemy import text

    exists = connection.execute(text(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='alembic_version'")).first()
    if exists is None:
        return None
    row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
    return None if row is None else str(row[0])
