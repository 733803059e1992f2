"""Fixtures for replication tests: a primary store with its Litestream replicator, and a
write node and a read node as real processes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The helpers module sits next to this file; tests import it by name.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from replication_nodes import Cluster, read_node, write_node

from questlog import Store
from questlog.replication.replicator import Replicator
from questlog.settings import Settings


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A write node replicating to a file:// replica and a read node following it."""
    tmp = tmp_path_factory.mktemp("cluster")
    replica = f"file://{tmp / 'replica'}"
    write = write_node(tmp, replica=replica)
    read = read_node(tmp, replica=replica, primary=write.url)
    try:
        write.start()
        read.start()
        yield Cluster(tmp, replica, write, read)
    finally:
        read.stop()
        write.stop()


@pytest.fixture
def primary(tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "primary.db"
    store = Store.open(path, settings=Settings(db=path, litestream_active=True))
    yield store
    store.close()


@pytest.fixture
def replicator(primary: Store, tmp_path: Path) -> Iterator[Replicator]:
    rep = Replicator.for_store(primary, f"file://{tmp_path / 'replica'}").start()
    yield rep
    rep.stop()
