"""Contract of the Checkpoints port (and of snapshots): a checkpoint is written in the
same transaction as the rows it covers, so a failed batch moves neither."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from questlog import Store
from questlog.storage.readmodels import declare, integer, text
from questlog.storage.session import Session
from questlog.storage.snapshots import StoredSnapshot


@pytest.fixture
def store(backend: Any) -> Iterator[Store]:
    """A fresh store on the backend under test, running the log alone; its ports are
    `store.checkpoints`, `store.readmodels`, `store.snapshots` (the backend's, once it
    exposes them as attributes)."""
    with backend.open_store(projectors=[]) as opened:
        yield opened


ROWS = declare("rm_contract_rows", integer("position", primary_key=True), text("what"))
NOW = "2026-01-01T00:00:00.000000Z"


def test_insert_read_update(store: Store) -> None:
    cps = store.checkpoints

    def job(session: Session) -> None:
        cps.insert(session, "a", 1, "inline", "live", NOW)
        cps.insert(session, "b", 2, "async", "rebuilding", NOW)
        cps.update(session, ["a", "b"], {"position": 7, "updated_at": "later"})
        cps.update(session, ["b"], {"rebuild_suffix": "x", "rebuild_position": 3,
                                    "last_error": None})

    store.write(job)
    with store.read() as session:
        got = cps.read(session)
    assert set(got) == {"a", "b"}
    a, b = got["a"], got["b"]
    assert (a.version, a.mode, a.position, a.state, a.updated_at, a.failures) == (
        1, "inline", 7, "live", "later", 0)
    assert (b.version, b.mode, b.position, b.state, b.rebuild_suffix, b.rebuild_position) == (
        2, "async", 7, "rebuilding", "x", 3)


def test_update_refuses_unknown_columns(store: Store) -> None:
    def job(session: Session) -> None:
        store.checkpoints.insert(session, "a", 1, "inline", "live", NOW)
        store.checkpoints.update(session, ["a"], {"name; DROP TABLE events": 1})

    with pytest.raises(ValueError, match="not checkpoint columns"):
        store.write(job)


def test_checkpoint_moves_in_the_same_transaction_as_the_rows(store: Store) -> None:
    cps, rm = store.checkpoints, store.readmodels

    def setup(session: Session) -> None:
        rm.create(session, ROWS)
        cps.insert(session, "p", 1, "async", "live", NOW)

    store.write(setup)

    def batch(session: Session, positions: range, fail: bool) -> None:
        session.executemany(sa.insert(ROWS), [{"position": p, "what": "x"} for p in positions])
        cps.update(session, ["p"], {"position": positions[-1], "updated_at": NOW})
        if fail:
            raise RuntimeError("the batch fails after writing")

    store.write(lambda s: batch(s, range(1, 4), False))
    with pytest.raises(RuntimeError):
        store.write(lambda s: batch(s, range(4, 8), True))

    with store.read() as session:
        position = cps.read(session)["p"].position
        rows = [r[0] for r in session.execute(sa.select(ROWS.c.position))]
    # Neither the rows nor the checkpoint of the failed batch: exactly once.
    assert position == 3 and sorted(rows) == [1, 2, 3]


def test_snapshots_never_move_backwards_and_clear(store: Store) -> None:
    snaps = store.snapshots
    store.write(lambda s: snaps.write(s, "campaign-a", "campaign", 1,
                                      StoredSnapshot(20, 100, '{"v":20}'), NOW))
    store.write(lambda s: snaps.write(s, "campaign-a", "campaign", 1,
                                      StoredSnapshot(10, 50, '{"v":10}'), NOW))
    store.write(lambda s: snaps.write(s, "campaign-a", "campaign", 2,
                                      StoredSnapshot(5, 40, '{"v":5}'), NOW))
    with store.read() as session:
        assert snaps.read(session, "campaign-a", "campaign", 1) == StoredSnapshot(
            20, 100, '{"v":20}')
        assert snaps.read(session, "campaign-a", "campaign", 2) == StoredSnapshot(
            5, 40, '{"v":5}')
        assert snaps.read(session, "campaign-b", "campaign", 1) is None
    assert store.write(snaps.clear) == 2
    with store.read() as session:
        assert snaps.read(session, "campaign-a", "campaign", 1) is None
