"""The PostgreSQL server and fresh databases of the PostgreSQL benchmark scripts.

The server is $QUESTLOG_BENCH_POSTGRES_URL, else a throwaway pgserver (PostgreSQL 16.2,
pgvector 0.6.2, inside the wheel) in a temporary directory, stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import sqlalchemy as sa

from questlog import Store


@contextmanager
def server() -> Iterator[str]:
    url = os.environ.get("QUESTLOG_BENCH_POSTGRES_URL")
    if url:
        yield url
        return
    directory = tempfile.mkdtemp(prefix="questlog-bench-pg-")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: no XDG_RUNTIME_DIR as root
        import pgserver

        srv = pgserver.get_server(Path(directory) / "data", cleanup_mode="stop")
    try:
        yield str(srv.get_uri())
    finally:
        srv.cleanup()
        shutil.rmtree(directory, ignore_errors=True)


def server_version(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else "?"


class Databases:
    """A fresh database per run, dropped at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.created: list[str] = []

    def fresh(self, schema: bool = True) -> str:
        """A new empty database's URL; with `schema`, questlog's schema created in it."""
        name = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        url = sa.make_url(self.url).set(database=name).render_as_string(hide_password=False)
        if schema:
            Store.open(url, projectors=[]).close()
        return url

    def drop_all(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
