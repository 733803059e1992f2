"""Schema administration through Alembic: `questlog init` and `questlog migrate`.

Alembic is imported only here, only when a schema command runs; opening a
store compares the stored revision with HEAD_REVISION (a test keeps that
constant equal to Alembic's head). Which revision a store holds is asked of its
backend (`questlog.sqlite.schema.current_revision` on SQLite).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import sqlalchemy as sa

HEAD_REVISION = "0003"
MIGRATIONS_PACKAGE = "questlog.migrations"


class SchemaAdmin(Protocol):
    def admin_engine(self) -> sa.Engine:
        """An engine for schema administration (init/migrate), never for event writes."""
        ...


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


def upgrade(db: SchemaAdmin, revision: str = "head") -> tuple[str | None, str]:
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


def _revision_of(connection: sa.Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    revision = MigrationContext.configure(connection).get_current_revision()
    return None if revision is None else str(revision)
