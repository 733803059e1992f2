"""The contract suite: what every storage backend must pass.

A backend is done when this directory is green on it. Every test here goes
through the public API (`questlog.Store`, `NewEvent`, the errors, projectors
as `tests/contract/projectors.py` declares them), never through an engine's
modules, so the same test runs on each backend.

How to write a contract test
----------------------------
Take the `backend` fixture (a `contract_backends.BackendUnderTest`). It is
parametrized over every backend that is available here (only those: nothing is
listed just to be skipped), and each test gets a fresh, empty store location
on it::

    def test_something(backend: BackendUnderTest) -> None:
        with backend.open_store(projectors=[]) as store:   # Store.open(location, **kw)
            store.append("s-1", [NewEvent(type="T")])
        other = backend.fresh()        # another empty store on the same backend
        proc = backend.spawn_writer_process(SCRIPT, "arg")   # a child process

`spawn_writer_process(script, *args)` runs `script` in a new Python process
whose globals already hold `open_store(**kw)` (the same store as the
fixture's), `projectors` (tests/contract/projectors.py) and `args` (the
strings passed), so a multi-process test never names a backend.
Read models are read with `store.read()` and SQLAlchemy Core statements
(projectors.py shows how), so the query compiles for each dialect. The
child's globals also hold `json`, `os` and `sys`.

Helper modules of this directory are imported as `contract_projectors`
(projectors.py) and `contract_backends` (backends.py): tests run under
`--import-mode=importlib`, so conftest loads them under those names.

Tests of one port (checkpoints, read models, vectors, keywords: one module
each, `test_<port>.py`) open a store the same way and reach the port through
the store's backend object once the engine package exposes it (storage-log's
`SQLiteBackend` has one attribute per port), running its methods inside
`store.write(fn)` (the writer's session) or `store.read()`. Compare results
with a plain-Python reference computed in the test (as `projectors.fold`
does for the log), never with numbers copied from a run.

Backends
--------
- `sqlite`: a store file in the test's tmp_path (always available).
- `postgresql`: listed only when `QUESTLOG_TEST_POSTGRES_URL` names a server;
  each store is a fresh database on it, dropped after the test. Issue 12
  makes this green. The parameters are fixed at collection, so code that
  starts a throwaway server (pgserver) must set the variable before then,
  e.g. in a `pytest_configure` hook, and stop the server in
  `pytest_unconfigure` (tests/conftest.py does, with pgserver).
To add a backend, add a factory to `BACKENDS` in backends.py and the
condition under which it is available to `available_backends()`.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent


def _load(name: str, filename: str) -> ModuleType:
    """A helper module of this directory under a unique name: tests run under
    --import-mode=importlib, so sibling modules are not importable by their own name.
    Test modules then `import contract_projectors` / `from contract_backends import …`."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / filename)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_load("contract_projectors", "projectors.py")
backends = _load("contract_backends", "backends.py")
_load("contract_search", "search_tables.py")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `backend` at collection, after every `pytest_configure` ran (the root
    conftest starts the throwaway PostgreSQL server there): this conftest is imported
    before that, so the backends cannot be listed at import time."""
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", backends.available_backends(), indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[backends.BackendUnderTest]:
    stores = backends.BACKENDS[request.param](tmp_path)
    try:
        yield stores.fresh()
    finally:
        stores.close()
