"""Contract of the ReadModels port: declared tables created, shadow-built and swapped in
one transaction (readers stay on the old model until it commits), digests stable across
a rebuild and independent of row order and of the driver's value types."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from questlog import NewEvent, Store
from questlog.events import RecordedEvent
from questlog.projection.projector import ProjectionContext, Projector
from questlog.storage.digests import rows_digest, table_digest
from questlog.storage.lookups import KeyLookup
from questlog.storage.readmodels import (
    declare,
    digest_rows,
    integer,
    json_text,
    physical,
    real,
    text,
)
from questlog.storage.session import Session


@pytest.fixture
def store(backend: Any) -> Iterator[Store]:
    """A fresh store on the backend under test, running the log alone; its ports are
    `store.checkpoints`, `store.readmodels`, `store.snapshots` (the backend's, once it
    exposes them as attributes)."""
    with backend.open_store(projectors=[]) as opened:
        yield opened


ITEMS = declare("rm_contract_items", text("key", primary_key=True), integer("n"),
                real("share", null=True), text("at", null=True),
                indexes=(("n",),), digest_exclude=("at",))
_ALL = sa.select(ITEMS.c.key, ITEMS.c.n).order_by(ITEMS.c.key)


def rows_of(session: Session, table: sa.Table) -> list[tuple[Any, ...]]:
    query = sa.select(table.c.key, table.c.n).order_by(table.c.key)
    return [tuple(r) for r in session.execute(query)]


def insert(session: Session, table: sa.Table, rows: Sequence[tuple[str, int]]) -> None:
    session.executemany(sa.insert(table), [{"key": k, "n": n, "share": n / 3, "at": None}
                                           for k, n in rows])


def test_create_makes_the_declared_table_and_exists_sees_it(store: Store) -> None:
    rm = store.readmodels

    def job(session: Session) -> list[tuple[Any, ...]]:
        assert not rm.exists(session, ITEMS.name)
        rm.create(session, ITEMS)
        assert rm.exists(session, ITEMS.name)
        insert(session, ITEMS, [("b", 2), ("a", 1)])
        return rows_of(session, ITEMS)

    assert store.write(job) == [("a", 1), ("b", 2)]
    with store.read() as session:
        assert rm.exists(session, ITEMS.name)
        assert not rm.exists(session, "rm_contract_nothing")


def test_a_key_lookup_reads_rows_by_bound_keys_in_order(store: Store) -> None:
    """`KeyLookup`, the point read of cold commands, renders on every engine: values bound
    (a quote or a LIKE wildcard is just a value), order and limit as declared."""
    rm = store.readmodels

    def job(session: Session) -> None:
        rm.create(session, ITEMS)
        insert(session, ITEMS, [("b", 2), ("a", 2), ("o'k%", 7), ("c", 3)])

    store.write(job)
    by_n = KeyLookup(ITEMS.name, ("key", "n"), ("n",), order_by=("key",))
    first = KeyLookup(ITEMS.name, ("key",), ("n",), order_by=("key",), limit=1)
    by_key = KeyLookup(ITEMS.name, ("n",), ("key",))
    with store.read() as session:
        assert [tuple(r) for r in session.execute(by_n, {"n": 2})] == [("a", 2), ("b", 2)]
        assert [tuple(r) for r in session.execute(first, {"n": 2})] == [("a",)]
        assert session.execute(by_key, {"key": "o'k%"}).fetchone()[0] == 7
        assert session.execute(by_key, {"key": "o'k"}).fetchone() is None
        assert session.execute(by_n, {"n": 99}).fetchall() == []


def test_upsert_replaces_adds_and_keeps_by_primary_key(store: Store) -> None:
    rm = store.readmodels
    counts = declare("rm_contract_counts", text("key", primary_key=True), integer("n"),
                     integer("first"), integer("last"))

    def job(session: Session) -> list[tuple[Any, ...]]:
        rm.create(session, counts)
        statement = rm.upsert(counts, add=("n",), keep=("first",))
        assert rm.upsert(counts, add=("n",), keep=("first",)) is statement  # built once
        session.executemany(statement, [{"key": "a", "n": 1, "first": 1, "last": 1},
                                        {"key": "b", "n": 1, "first": 2, "last": 2}])
        session.executemany(statement, [{"key": "a", "n": 2, "first": 9, "last": 3}])
        return [tuple(r) for r in session.execute(sa.select(counts).order_by(counts.c.key))]

    assert store.write(job) == [("a", 3, 1, 3), ("b", 1, 2, 2)]


PAIRS = declare("rm_contract_pairs", text("owner", primary_key=True),
                integer("entry", primary_key=True), text("label", null=True),
                json_text("doc", null=True), integer("big"),
                integer("flag", server_default=sa.text("0")))
_PAIRS_ALL = sa.select(PAIRS).order_by(PAIRS.c.owner, PAIRS.c.entry)


def test_rows_by_keys_reads_every_row_of_the_given_keys_in_one_statement(store: Store
                                                                         ) -> None:
    """The batch read of inline projectors: one key column or several, values bound (a
    quote, a wildcard, text that is JSON, NULL, 64-bit integers come back as stored), keys
    without a row give nothing, and a table with a REAL column reads as exactly."""
    rm = store.readmodels
    big = 2**62 + 5
    doc = '{"b":[1,2.5,"x"],"a":null}'

    def job(session: Session) -> tuple[list[tuple[Any, ...]], ...]:
        rm.create(session, PAIRS)
        rm.create(session, ITEMS)
        session.executemany(sa.insert(PAIRS), [
            {"owner": "o'k%", "entry": 1, "label": None, "doc": doc, "big": big, "flag": 1},
            {"owner": "o'k%", "entry": 2, "label": "two", "doc": None, "big": -big,
             "flag": 0},
            {"owner": "p", "entry": 1, "label": "ünï", "doc": "[]", "big": 0, "flag": 0}])
        insert(session, ITEMS, [("a", 1), ("b", 2), ("c", 3)])
        pairs = rm.rows_by_keys(session, PAIRS, ("owner", "entry"),
                                [("o'k%", 1), ("p", 1), ("p", 2), ("o'k%", 2)],
                                ("entry", "owner", "label", "doc", "big"))
        owners = rm.rows_by_keys(session, PAIRS, ("owner",), [("p",), ("nobody",)],
                                 ("owner", "entry", "flag"))
        items = rm.rows_by_keys(session, ITEMS, ("key",), [("c",), ("a",), ("z",)],
                                ("key", "share", "n"))
        none = rm.rows_by_keys(session, ITEMS, ("key",), [], ("key",))
        return sorted(pairs), owners, sorted(items), none

    pairs, owners, items, none = store.write(job)
    assert pairs == [(1, "o'k%", None, doc, big), (1, "p", "ünï", "[]", 0),
                     (2, "o'k%", "two", None, -big)]
    assert owners == [("p", 1, 0)]
    assert items == [("a", 1 / 3, 1), ("c", 3 / 3, 3)]
    assert none == []


def test_write_rows_inserts_or_replaces_and_delete_by_keys_deletes(store: Store) -> None:
    """The batch writes of inline projectors: rows as tuples of the named columns (the
    others take their defaults), replaced by primary key with `replace`, refused on a taken
    key without it; values stored exactly (JSON text, NULL, 64-bit and larger integers,
    REAL); delete by one key column or several."""
    rm = store.readmodels
    big = 2**63 - 1
    cols = ("owner", "entry", "label", "doc", "big")

    def job(session: Session) -> tuple[list[tuple[Any, ...]], ...]:
        rm.create(session, PAIRS)
        rm.create(session, ITEMS)
        rm.write_rows(session, PAIRS, cols, [("a", 1, "x", '{"k":1}', big),
                                             ("a", 2, None, None, -big),
                                             ("b", 1, "it's", "[1.5]", 0)], replace=False)
        rm.write_rows(session, PAIRS, (*cols, "flag"), [("a", 2, "y", "null", 7, 1)],
                      replace=True)
        rm.write_rows(session, PAIRS, ("owner", "entry", "big"), [("b", 1, 8)], replace=True)
        rm.write_rows(session, PAIRS, cols, [], replace=False)
        first = [tuple(r) for r in session.execute(_PAIRS_ALL)]
        rm.delete_by_keys(session, PAIRS, ("owner", "entry"), [("a", 1), ("zz", 9)])
        after_pair = [tuple(r) for r in session.execute(_PAIRS_ALL)]
        rm.delete_by_keys(session, PAIRS, ("owner",), [("b",)])
        rm.delete_by_keys(session, PAIRS, ("owner",), [])
        after_owner = [tuple(r) for r in session.execute(_PAIRS_ALL)]
        rm.write_rows(session, ITEMS, ("key", "n", "share", "at"),
                      [("r", 1, 0.1 + 0.2, None), ("s", 2, 1e-300, "t")], replace=True)
        rm.write_rows(session, ITEMS, ("key", "n", "share", "at"), [("r", 3, 2.5, None)],
                      replace=True)
        items = [tuple(r) for r in session.execute(
            sa.select(ITEMS.c.key, ITEMS.c.n, ITEMS.c.share).order_by(ITEMS.c.key))]
        return first, after_pair, after_owner, items

    first, after_pair, after_owner, items = store.write(job)
    assert first == [("a", 1, "x", '{"k":1}', big, 0), ("a", 2, "y", "null", 7, 1),
                     ("b", 1, "it's", "[1.5]", 8, 0)]
    assert after_pair == first[1:]
    assert after_owner == [first[1]]
    assert items == [("r", 3, 2.5), ("s", 2, 1e-300)]


def test_write_rows_of_many_rows_and_repeated_keys(store: Store) -> None:
    """A write of more rows than one statement takes (SQLite: 64 a statement) stores
    every row; a key given twice in one write with `replace` ends as its last row."""
    rm = store.readmodels
    cols = ("owner", "entry", "label", "doc", "big")
    rows = [(f"o{n % 7}", n, f"label {n} \"q\"", f'{{"n":{n}}}', n * 3) for n in range(150)]
    again = [(owner, entry, "again", None, -big) for owner, entry, _, _, big in rows[60:140]]

    def job(session: Session) -> list[tuple[Any, ...]]:
        rm.create(session, PAIRS)
        rm.write_rows(session, PAIRS, cols, rows, replace=False)
        rm.write_rows(session, PAIRS, cols, [*again, ("o1", 1, "last", "[]", 5)],
                      replace=True)
        return [tuple(r) for r in session.execute(_PAIRS_ALL)]

    stored = store.write(job)
    expected = {(r[0], r[1]): (*r, 0) for r in rows}
    expected.update({(r[0], r[1]): (*r, 0) for r in again})
    expected["o1", 1] = ("o1", 1, "last", "[]", 5, 0)
    assert stored == sorted(expected.values())


def test_write_rows_without_replace_refuses_a_taken_key_and_writes_nothing(store: Store
                                                                           ) -> None:
    rm = store.readmodels

    def setup(session: Session) -> None:
        rm.create(session, PAIRS)
        rm.write_rows(session, PAIRS, ("owner", "entry", "big"), [("a", 1, 1)],
                      replace=False)

    def clash(session: Session) -> None:
        rm.write_rows(session, PAIRS, ("owner", "entry", "big"), [("b", 1, 2), ("a", 1, 3)],
                      replace=False)

    store.write(setup)
    with pytest.raises(Exception):  # noqa: B017 - the engine's constraint error
        store.write(clash)
    with store.read() as session:
        assert [tuple(r) for r in session.execute(_PAIRS_ALL)] == [("a", 1, None, None, 1, 0)]


def test_a_nocase_column_takes_bound_values_and_large_integers(store: Store) -> None:
    """Columns declared as the content tables declare them (SQLite's NOCASE collation,
    64-bit integers) take Core inserts and upserts with bound values on every engine
    (PostgreSQL has no NOCASE: no statement may name it, nor cast a value to it)."""
    rm = store.readmodels
    names = declare("rm_contract_names", text("key", primary_key=True),
                    sa.Column("name", sa.Text(collation="NOCASE"), nullable=False),
                    integer("big"))
    big = 2**40 + 7

    def job(session: Session) -> list[tuple[Any, ...]]:
        rm.create(session, names)
        session.executemany(sa.insert(names), [{"key": "a", "name": "Fireball", "big": big}])
        session.execute(rm.upsert(names), {"key": "a", "name": "Fire Bolt", "big": big + 1})
        session.execute(sa.insert(names), {"key": "b", "name": "Acid Arrow", "big": -big})
        query = sa.select(names).where(names.c.big != sa.bindparam("skip"))
        return [tuple(r) for r in session.execute(query.order_by(names.c.key), {"skip": 0})]

    assert store.write(job) == [("a", "Fire Bolt", big + 1), ("b", "Acid Arrow", -big)]


def test_shadow_swap_leaves_readers_on_the_old_model_until_it_commits(store: Store) -> None:
    rm = store.readmodels
    shadow = physical(ITEMS, "rm_contract_items__rb1")
    assert shadow.name != ITEMS.name and [c.name for c in shadow.columns] == [
        c.name for c in ITEMS.columns]

    def build(session: Session) -> None:
        rm.create(session, ITEMS)
        insert(session, ITEMS, [("old", 1)])
        rm.create(session, shadow)   # a shadow beside the live table, filled separately
        insert(session, shadow, [("new", 1), ("newer", 2)])

    store.write(build)
    with store.read() as session:
        assert rows_of(session, ITEMS) == [("old", 1)]   # the shadow is not visible
    seen_during_swap: list[list[tuple[Any, ...]]] = []

    def swap(session: Session) -> None:
        rm.swap(session, shadow, ITEMS)
        # Swapped but not committed: a reader on another thread still sees the old model.
        reader = threading.Thread(target=lambda: seen_during_swap.append(read_items(store)))
        reader.start()
        reader.join()

    store.write(swap)
    assert seen_during_swap == [[("old", 1)]]
    assert read_items(store) == [("new", 1), ("newer", 2)]
    with store.read() as session:
        assert not rm.exists(session, shadow.name)


def read_items(store: Store) -> list[tuple[Any, ...]]:
    with store.read() as session:
        return rows_of(session, ITEMS)


def test_a_failed_swap_rolls_back_whole(store: Store) -> None:
    rm = store.readmodels
    shadow = physical(ITEMS, "rm_contract_items__rb2")

    def build(session: Session) -> None:
        rm.create(session, ITEMS)
        insert(session, ITEMS, [("old", 1)])
        rm.create(session, shadow)
        insert(session, shadow, [("new", 1)])

    store.write(build)

    def swap_then_fail(session: Session) -> None:
        rm.swap(session, shadow, ITEMS)
        raise RuntimeError("the rest of the swap failed")

    try:
        store.write(swap_then_fail)
    except RuntimeError:
        pass
    assert read_items(store) == [("old", 1)]
    with store.read() as session:
        assert rm.exists(session, shadow.name)


def test_digest_is_canonical_order_and_skips_excluded_columns(store: Store) -> None:
    rm = store.readmodels
    other = physical(ITEMS, "rm_contract_items_b")

    def fill(session: Session) -> tuple[str, str]:
        rm.create(session, ITEMS)
        rm.create(session, other)
        session.executemany(sa.insert(ITEMS), [
            {"key": "a", "n": 1, "share": 0.5, "at": "2026-01-01"},
            {"key": "b", "n": 2, "share": None, "at": "2026-01-02"}])
        session.executemany(sa.insert(other), [   # other order, other wall-clock times
            {"key": "b", "n": 2, "share": None, "at": "2030-01-01"},
            {"key": "a", "n": 1, "share": 0.5, "at": None}])
        return rm.digest(session, ITEMS), rm.digest(session, other)

    mine, theirs = store.write(fill)
    assert mine == theirs
    # The encoding is the engine-neutral one: the digest columns, then one row per line.
    assert mine == digest_rows(["key", "n", "share"], [[("a", 1, 0.5), ("b", 2, None)]])

    def change(session: Session) -> str:
        session.execute(sa.update(ITEMS).where(ITEMS.c.key == "a").values(n=5))
        return rm.digest(session, ITEMS)

    assert store.write(change) != mine


def test_digest_orders_text_by_code_point_and_null_first(store: Store) -> None:
    """The digest's row order is the same on every engine: text by code point (SQLite's
    BINARY, whatever the server's collation), NULL before any value."""
    table = declare("rm_contract_order", text("key", primary_key=True), text("note", null=True),
                    integer("n", null=True), digest_order=("note", "n", "key"))
    rows = [("a", "b", 1), ("B", None, 2), ("é", "B", None), ("Z", "a", 3), ("_", None, None),
            ("b", "B", 4), ("ab", "b", -1)]

    def fill(session: Session) -> str:
        store.readmodels.create(session, table)
        session.executemany(sa.insert(table), [{"key": k, "note": t, "n": n}
                                               for k, t, n in rows])
        return store.readmodels.digest(session, table)

    def order(row: tuple[str, str | None, int | None]) -> tuple[Any, ...]:
        key, note, n = row
        return (note is not None, note or "", n is not None, n or 0, key)

    assert store.write(fill) == digest_rows(["key", "note", "n"], [sorted(rows, key=order)])


def test_digest_of_a_table_never_created_is_the_empty_digest(store: Store) -> None:
    with store.read() as session:   # e.g. `projections hash` on a read-only store
        assert store.readmodels.digest(session, ITEMS) == digest_rows([], [])


def test_digest_encoding_does_not_depend_on_driver_value_types() -> None:
    plain = digest_rows(["a", "b", "c", "d"], [[(1, 0.25, b"\x01", None), (0, 2.0, b"", "x")]])
    driver = digest_rows(["a", "b", "c", "d"], [[(True, Decimal("0.25"), memoryview(b"\x01"),
                                                  None), (False, 2.0, memoryview(b""), "x")]])
    assert plain == driver
    assert plain != digest_rows(["a", "b", "c", "d"], [[(1, 0.25, b"\x01", None)]])


MIXED = declare("rm_contract_mixed", text("k", primary_key=True), text("label"),
                integer("n", null=True), real("x", null=True), json_text("doc", null=True),
                digest_order=("label", "k"))


def test_digest_is_the_engine_independent_one_whatever_order_and_value_types(
        store: Store) -> None:
    """Mixed-case text (engines collate it differently), ints in a REAL column and
    integral floats in an INTEGER one, JSON in other key orders and spacing, NULLs: two
    tables holding equal values digest alike, and as storage.digests says."""
    rm = store.readmodels
    other = physical(MIXED, "rm_contract_mixed_b")
    rows = [("1", "apple", 1, 0.5, '{"a":1,"b":2}'), ("2", "Apple", 2, 3.0, None),
            ("3", "Zebra", None, None, '[{"y":true,"x":null}]'), ("4", "éclair", 0, 2.0, "{}"),
            ("5", "banana", -7, -0.25, '"s"')]
    retyped = [("5", "banana", -7.0, -0.25, '"s"'), ("4", "éclair", 0, 2, "{ }"),
               ("3", "Zebra", None, None, '[{"x": null, "y": true}]'), ("2", "Apple", 2, 3, None),
               ("1", "apple", 1.0, 0.5, '{"b": 2, "a": 1}')]
    names = ("k", "label", "n", "x", "doc")

    def fill(session: Session) -> tuple[str, str]:
        rm.create(session, MIXED)
        rm.create(session, other)
        session.executemany(sa.insert(MIXED), [dict(zip(names, r, strict=True)) for r in rows])
        session.executemany(sa.insert(other),
                            [dict(zip(names, r, strict=True)) for r in retyped])
        return rm.digest(session, MIXED), rm.digest(session, other)

    mine, theirs = store.write(fill)
    assert mine == theirs == rows_digest(MIXED, rows)
    with store.read() as session:
        assert table_digest(rm, session, other) == mine


class Tally(Projector):
    """Inline; one row per stream: how many events and the last type."""

    name = "contract_tally"
    version = 1
    mode = "inline"
    tables = (declare("rm_contract_tally", text("stream_id", primary_key=True),
                      integer("n"), text("last_type"), without_rowid=True),)

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        ctx.session.executemany(ctx.upsert("rm_contract_tally", add=("n",)), [
            {"stream_id": e.stream_id, "n": 1, "last_type": e.type} for e in events])


def test_digest_is_stable_across_a_rebuild(backend: Any) -> None:
    with backend.fresh().open_store(projectors=[Tally()]) as store:
        for i in range(30):
            store.append(f"s-{i % 7}", [NewEvent(type=f"T{i % 3}", data={"i": i})])
        before = store.projections.hashes(["contract_tally"])
        with store.read() as session:
            (count,) = session.execute(sa.select(sa.func.count()).select_from(
                Tally.tables[0])).fetchone()
        assert count == 7
        store.projections.rebuild(["contract_tally"])
        assert store.projections.hashes(["contract_tally"]) == before
        with store.read() as session:
            cp = store.checkpoints.read(session)["contract_tally"]
        assert (cp.state, cp.rebuild_suffix, cp.position) == ("live", None, 30)
