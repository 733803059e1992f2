"""Fixtures of the content tests: stores running the content projector, SRD copies."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from questlog import Store

# pytest runs with --import-mode=importlib, so test modules cannot import a sibling
# module by default; the shared helpers live in content_packtools.py next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from content_packtools import open_store


@pytest.fixture
def content_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(tmp_path / "content.db")
    yield store
    store.close()


@pytest.fixture(scope="session")
def srd_store(srd_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One store with the whole SRD imported, shared by read-only tests (do not write to it)."""
    store = open_store(tmp_path_factory.mktemp("srd") / "srd.db")
    report = store.content.import_pack(srd_dir, pack="srd")
    assert report.added == 2317
    yield store
    store.close()


@pytest.fixture(scope="session")
def srd_json(srd_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """The SRD files as parsed JSON, by type."""
    result: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(srd_dir.glob("5e-SRD-*.json")):
        result[path.stem[len("5e-SRD-"):].lower()] = json.loads(path.read_text("utf-8"))
    return result


@pytest.fixture
def srd_copy(srd_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the SRD directory."""
    target = tmp_path / "srd-copy"
    shutil.copytree(srd_dir, target)
    for path in target.iterdir():
        path.chmod(0o644)
    return target


