"""SQLite's side of the schema: which revision a file holds, and foreign files.

Alembic itself (upgrades) is driven from `questlog.schema`; these are the
catalogue probes (`sqlite_master`) opening a store needs.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import NotAStore
from ..storage.session import Session
from .driver import DBAPIConnection, load_dbapi
from .errors import open_failure

_TABLES_SQL = "SELECT name FROM sqlite_master WHERE type = 'table'"

# The newest migration that changes a SQLite store. Later ones (0003: PostgreSQL's
# one-round-trip function) change nothing here, so a store at this revision or after is
# read and written as it is: upgrading questlog never makes a SQLite store (or a read
# node's replica of one) unreadable until `questlog migrate` records a no-op.
NEWEST_SQLITE_CHANGE = "0002"


def usable_as_is(revision: str, head: str) -> bool:
    """Whether a store at `revision` needs no migration to be used by this questlog."""
    return (revision.isdigit() and int(NEWEST_SQLITE_CHANGE) <= int(revision) <= int(head))


def table_names(conn: Session | DBAPIConnection) -> set[str]:
    """Every table of the database (the one catalogue probe of this backend)."""
    return {str(r[0]) for r in conn.execute(_TABLES_SQL)}


def table_exists(session: Session | DBAPIConnection, name: str) -> bool:
    """Whether a table (virtual tables included) of this name exists."""
    return session.execute("SELECT 1 FROM sqlite_master WHERE name = ?",
                           (name,)).fetchone() is not None


def current_revision(conn: Session | DBAPIConnection) -> str | None:
    """The store's Alembic revision, or None for a file without questlog's schema."""
    if "alembic_version" not in table_names(conn):
        return None
    rev = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if rev is None else str(rev[0])


def holds_foreign_tables(conn: Session | DBAPIConnection) -> bool:
    """True for a SQLite database with tables but without questlog's schema."""
    tables = table_names(conn)
    return bool(tables) and "alembic_version" not in tables


def refuse_foreign_file(target: Path) -> None:
    """Raise NotAStore when `target` is a SQLite file with tables but no questlog schema.

    Looked at through a read-only connection, so a refused file is left byte for byte
    as it was (the store's own connections would switch it to WAL first).
    """
    dbapi = load_dbapi()
    try:
        conn = dbapi.connect(f"file:{target}?mode=ro", uri=True)
        try:
            foreign = holds_foreign_tables(conn)
        finally:
            conn.close()
    except dbapi.Error as exc:
        failure = open_failure(exc, target, read_only=False)
        if failure is not None:
            raise failure from exc
        raise
    if foreign:
        raise NotAStore(f"{target} is a SQLite database with other tables, not a questlog "
                        "store; refusing to add questlog's schema to it (`questlog init "
                        "--force` does)")


def integrity_problems(path: Path) -> list[str]:
    """What `PRAGMA integrity_check` finds wrong with the database file at `path`, read
    on a fresh read-only connection (empty: the file is sound)."""
    conn = load_dbapi().connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()
    return [str(r[0]) for r in rows if str(r[0]) != "ok"]
