"""Fixtures shared by every test area, and the throwaway PostgreSQL server of the run."""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from questlog import Store
from questlog.settings import Settings

REPO = Path(__file__).resolve().parent.parent
POSTGRES_URL_ENV = "QUESTLOG_TEST_POSTGRES_URL"


# -- the PostgreSQL server of this run ---------------------------------------------------
# Tests that need PostgreSQL (the contract suite's `postgresql` parameter) read the server
# from $QUESTLOG_TEST_POSTGRES_URL. When it is not set, one throwaway server (pgserver:
# PostgreSQL 16.2 with pgvector 0.6.2, inside the wheel) is started here, before
# collection fixes the parameters, and stopped when the run ends. Without pgserver the
# PostgreSQL parameters are not collected on a user's machine; under CI=true that fails.

class _ThrowawayServer:
    def __init__(self) -> None:
        self.server: Any = None
        self.directory: str | None = None

    def start(self) -> str:
        self.directory = tempfile.mkdtemp(prefix="questlog-pg-")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: no XDG_RUNTIME_DIR as root
            import pgserver

            self.server = pgserver.get_server(Path(self.directory) / "data", cleanup_mode="stop")
        atexit.register(self.stop)  # an interrupted run stops it too
        return str(self.server.get_uri())

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.cleanup()   # stops the postmaster this run started (by its pid)
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


_SERVER = _ThrowawayServer()


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(POSTGRES_URL_ENV):
        return  # a server given from outside
    if importlib.util.find_spec("pgserver") is None or importlib.util.find_spec("psycopg") is None:
        if os.environ.get("CI") == "true":
            raise pytest.UsageError(
                "CI=true but pgserver/psycopg are not installed, so the PostgreSQL contract "
                "tests cannot run (bash ops/setup.sh installs them)")
        return
    os.environ[POSTGRES_URL_ENV] = _SERVER.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SERVER.server is not None:
        os.environ.pop(POSTGRES_URL_ENV, None)
        _SERVER.stop()



def srd_path() -> Path | None:
    """The real SRD data set: $QUESTLOG_SRD_DIR or ../shared/data/5e-srd-2014."""
    env = os.environ.get("QUESTLOG_SRD_DIR")
    candidate = Path(env) if env else REPO.parent / "shared" / "data" / "5e-srd-2014"
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="session")
def srd_dir() -> Path:
    """Skips on a user's machine without ../shared; must be there when CI=true."""
    path = srd_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but the SRD data set is missing (../shared/data/5e-srd-2014)")
        pytest.skip("SRD data set not present (set QUESTLOG_SRD_DIR)")
    return path


@pytest.fixture(autouse=True)
def _pydantic_plugins_env_restored() -> Iterator[None]:
    """`questlog.cli.main` sets PYDANTIC_DISABLE_PLUGINS for its own process
    (cli/pydantic_plugins.py): a test that runs it in-process gets the environment back."""
    before = os.environ.get("PYDANTIC_DISABLE_PLUGINS")
    yield
    if before is None:
        os.environ.pop("PYDANTIC_DISABLE_PLUGINS", None)
    else:
        os.environ["PYDANTIC_DISABLE_PLUGINS"] = before


def make_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def bare_store(store_path: Path) -> Iterator[Store]:
    """A store running the log alone (no projectors)."""
    store = Store.open(store_path, projectors=[])
    yield store
    store.close()


@pytest.fixture
def store(store_path: Path) -> Iterator[Store]:
    """A store with every discovered projector."""
    store = Store.open(store_path)
    yield store
    store.close()
