"""The PostgreSQL driver: psycopg 3, whether it is installed, the server and pgvector.

psycopg is an optional dependency (`questlog[postgres]`): `require()` answers one
clear line when it is missing, so `QUESTLOG_DB=postgresql://…` on an installation
without it says what to install instead of an ImportError.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from ..storage.select import BackendUnavailable

# The oldest server questlog is tested against in spirit (README: PostgreSQL >= 14 with
# pgvector >= 0.6); older ones lack what the schema uses (transition tables are 10+,
# `websearch_to_tsquery` 11+, nondeterministic collations 12+).
MIN_SERVER_VERSION = 140000
MIN_PGVECTOR = (0, 6, 0)

PGConnection = Any  # psycopg.Connection[tuple[Any, ...]]; kept loose where rows are tuples


def installed() -> bool:
    """Whether psycopg and psycopg_pool can be imported (without importing them)."""
    return all(importlib.util.find_spec(name) is not None for name in ("psycopg", "psycopg_pool"))


def require() -> None:
    """Raise BackendUnavailable (one line) unless the PostgreSQL driver is installed."""
    if not installed():
        raise BackendUnavailable(
            "the PostgreSQL backend needs psycopg 3 and psycopg_pool: "
            "pip install 'questlog[postgres]'")


@dataclass(frozen=True)
class ServerFacts:
    """What `questlog doctor` says about the server a store lives on."""

    server_version: str          # "16.2"
    server_version_num: int      # 160002
    pgvector: str | None         # the installed extension's version, None if not created
    pgvector_available: str | None   # the version the server could install, None if none

    def as_dict(self) -> dict[str, Any]:
        return {"server_version": self.server_version, "pgvector": self.pgvector,
                "pgvector_available": self.pgvector_available,
                "server_supported": self.server_version_num >= MIN_SERVER_VERSION}


def server_facts(conn: PGConnection) -> ServerFacts:
    """The server's version and pgvector's, read on one connection."""
    row = conn.execute(
        "SELECT current_setting('server_version'), current_setting('server_version_num')::int, "
        "(SELECT extversion FROM pg_extension WHERE extname = 'vector'), "
        "(SELECT default_version FROM pg_available_extensions WHERE name = 'vector')"
    ).fetchone()
    version = str(row[0]).split(" ", 1)[0]
    return ServerFacts(version, int(row[1]), row[2], row[3])


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())
