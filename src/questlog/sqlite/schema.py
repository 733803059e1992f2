"""Schema probes of a SQLite store (what `sqlite_master` says)."""

from __future__ import annotations

from ..storage.session import Session


def table_exists(session: Session, name: str) -> bool:
    """Whether a table (virtual tables included) of this name exists."""
    return session.execute("SELECT 1 FROM sqlite_master WHERE name = ?",
                           (name,)).fetchone() is not None
