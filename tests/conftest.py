"""Fixtures shared by every test area."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from questlog import Store
from questlog.settings import Settings

REPO = Path(__file__).resolve().parent.parent


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
