"""Fixtures of the copy tests: a source store holding the real SRD and the recorded game
session, the contract suite's backends, and the command line as a subprocess.

The search index is built with the hashing embedder (`set_default_embedder`), in this
process only: its digest leaves the vectors out, and copying never embeds what the
source's embedding cache holds (the subprocess tests use stores without content).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from questlog import Store
from questlog.replay import replay_file
from questlog.search.embedder import HashingEmbedder, set_default_embedder

TESTS = Path(__file__).resolve().parent.parent
FIXTURES = TESTS / "fixtures"
GAME_LOG = FIXTURES / "game_session.jsonl"


def _contract_backends() -> ModuleType:
    """tests/contract/backends.py, under the name the contract suite gives it."""
    name = "contract_backends"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TESTS / "contract" / "backends.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


backends = _contract_backends()


@pytest.fixture(scope="module", autouse=True)
def hashing_embedder() -> Iterator[None]:
    set_default_embedder(HashingEmbedder())
    yield
    set_default_embedder(None)


@pytest.fixture(scope="module")
def srd_game_store(srd_dir: Path, tmp_path_factory: pytest.TempPathFactory,
                   hashing_embedder: None) -> Path:
    """A SQLite store: the whole SRD imported, the recorded game session replayed, every
    read model (search index included) caught up. Tests only read it."""
    path = tmp_path_factory.mktemp("source") / "source.db"
    with Store.open(path) as store:
        store.content.import_pack(srd_dir, pack="srd")
        report = replay_file(store, GAME_LOG)
        assert report.appended > 400
        store.projections.catch_up()
    return path


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `other_backend` at collection, after every `pytest_configure` ran (the
    root conftest starts the throwaway PostgreSQL server there): this conftest can be
    imported before that, so the backends cannot be listed at import time."""
    if "other_backend" in metafunc.fixturenames:
        metafunc.parametrize("other_backend", backends.available_backends(), indirect=True)


@pytest.fixture
def other_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """A fresh, empty store location on each backend the contract suite runs on."""
    stores = backends.BACKENDS[request.param](tmp_path)
    try:
        yield stores.fresh()
    finally:
        stores.close()


def questlog(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The installed command line in a child process, no QUESTLOG_* settings inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    return subprocess.run([sys.executable, "-m", "questlog.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, check=False)
