"""Tests of what only the PostgreSQL backend has: connections that break and come back,
errors by SQLSTATE, several writer processes, `doctor`'s server lines.

What every backend must do is the contract suite's (tests/contract); these tests
run on the server of $QUESTLOG_TEST_POSTGRES_URL (the root conftest starts a
throwaway one with pgserver), each on a fresh database dropped afterwards. Without a
server they skip on a user's machine and fail under CI=true.

The load helpers (writer processes, log pollers) sit next to this file in pg_load.py;
tests import them by name (`import pg_load`).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

POSTGRES_URL_ENV = "QUESTLOG_TEST_POSTGRES_URL"


def server_url() -> str:
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no PostgreSQL server (${POSTGRES_URL_ENV} unset and "
                        "pgserver not installed)")
        pytest.skip(f"no PostgreSQL server (set ${POSTGRES_URL_ENV} or install pgserver)")
    return url


def with_database(url: str, database: str) -> str:
    """The server URL naming another database (the socket directory stays in the query)."""
    import sqlalchemy as sa

    return sa.make_url(url).set(database=database).render_as_string(hide_password=False)


def admin(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True)


@pytest.fixture
def pg_server() -> str:
    """The test server's URL (skips without one; fails under CI=true)."""
    return server_url()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty database on the test server, dropped after the test."""
    base = server_url()
    database = f"questlog_pg_{uuid.uuid4().hex[:12]}"
    with admin(base) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    try:
        yield with_database(base, database)
    finally:
        with admin(base) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
