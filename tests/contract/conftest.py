"""The contract suite's backends: every port test runs once per available backend.

Minimal version (storage-readmodels): SQLite only. A backend here is a real store
on a real file, with the ports that store's composition root hands out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from questlog import Store
from questlog.storage.checkpoints import Checkpoints
from questlog.storage.readmodels import ReadModels
from questlog.storage.snapshots import Snapshots


@dataclass
class ContractBackend:
    name: str
    store: Store

    @property
    def checkpoints(self) -> Checkpoints:
        return self.store.checkpoints

    @property
    def readmodels(self) -> ReadModels:
        return self.store.readmodels

    @property
    def snapshots(self) -> Snapshots:
        return self.store.snapshots


BACKENDS = ["sqlite"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContractBackend]:
    store = Store.open(tmp_path / "contract.db", projectors=[])
    try:
        yield ContractBackend(request.param, store)
    finally:
        store.close()
