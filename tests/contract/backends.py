"""Backends the contract suite runs on: fresh store locations and child processes.

Loaded by conftest.py as the module `contract_backends` (see its docstring).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from questlog import Store

HERE = Path(__file__).resolve().parent
POSTGRES_URL_ENV = "QUESTLOG_TEST_POSTGRES_URL"


# Runs before a child's script: the same store, the same projectors, no backend named.
_CHILD_PRELUDE = """
import importlib.util, json, os, sys
from questlog import Store
_spec = importlib.util.spec_from_file_location("contract_projectors", {projectors!r})
projectors = importlib.util.module_from_spec(_spec)
sys.modules["contract_projectors"] = projectors
_spec.loader.exec_module(projectors)
args = sys.argv[1:]

def open_store(**kw):
    return Store.open({location!r}, **kw)
"""


@dataclass
class BackendUnderTest:
    """One store location on one backend, and how to open it from here or a child."""

    name: str                       # "sqlite" | "postgresql"
    url: str                        # the store as a URL (sqlite:///…, postgresql://…)
    location: str                   # what Store.open takes today (a path for SQLite)
    path: Path | None               # the store file, for file-based backends
    fresh: Callable[[], BackendUnderTest] = field(repr=False)

    def open_store(self, **kw: Any) -> Store:
        return Store.open(self.location, **kw)

    def spawn_writer_process(self, script: str, *args: str) -> subprocess.Popen[str]:
        """Run `script` in a child process (see the module docstring); pipes are text."""
        prelude = _CHILD_PRELUDE.format(projectors=str(HERE / "projectors.py"),
                                        location=self.location)
        return subprocess.Popen([sys.executable, "-c", prelude + script, *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class _SQLiteStores:
    """Each fresh store is a new file in the test's temporary directory."""

    name = "sqlite"

    def __init__(self, tmp_path: Path) -> None:
        self.directory = tmp_path
        self.count = 0

    def fresh(self) -> BackendUnderTest:
        self.count += 1
        path = self.directory / f"store-{self.count}.db"
        return BackendUnderTest(self.name, f"sqlite:///{path}", str(path), path, self.fresh)

    def close(self) -> None:
        """tmp_path goes away on its own."""


class _PostgresStores:
    """Each fresh store is a new database on the server of $QUESTLOG_TEST_POSTGRES_URL,
    dropped when the test ends."""

    name = "postgresql"

    def __init__(self, tmp_path: Path) -> None:
        import sqlalchemy as sa

        self.server_url = sa.make_url(os.environ[POSTGRES_URL_ENV])
        admin_url = self.server_url
        if admin_url.drivername == "postgresql":  # SQLAlchemy would pick psycopg2
            admin_url = admin_url.set(drivername="postgresql+psycopg")
        self.engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.databases: list[str] = []

    def fresh(self) -> BackendUnderTest:
        import sqlalchemy as sa

        database = f"questlog_contract_{uuid.uuid4().hex[:12]}"
        with self.engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
        self.databases.append(database)
        url = self.server_url.set(database=database).render_as_string(hide_password=False)
        return BackendUnderTest(self.name, url, url, None, self.fresh)

    def close(self) -> None:
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            for database in self.databases:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        self.engine.dispose()


BACKENDS: dict[str, Callable[[Path], _SQLiteStores | _PostgresStores]] = {
    "sqlite": _SQLiteStores,
    "postgresql": _PostgresStores,
}


def available_backends() -> list[str]:
    """Only backends that can run here: the suite never lists one just to skip it."""
    names = ["sqlite"]
    if os.environ.get(POSTGRES_URL_ENV):
        names.append("postgresql")
    return names
