"""Content read models: packs, every pack's entries, the effective entry per (type, index),
one filterable table per SRD type, and the membership side table.

One projector keeps them all because they depend on each other: which pack's
entry is effective for a (type, index) decides what the per-type tables hold.
The effective entry is the one of the pack with the highest priority (ties:
the pack name that sorts first); removing it, or its pack, makes the next one
visible again. Work is batched: an import of the whole SRD is one append of
~2,300 events, projected with a few `executemany` calls.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from questlog.content import tables as content_tables
from questlog.content.columns import (
    ENTITIES_TABLE,
    MEMBERS_TABLE,
    PACK_ENTRIES_TABLE,
    PACKS_TABLE,
    TYPED_TABLE_TYPES,
    member_rows,
    name_key,
    type_row,
    type_table,
)
from questlog.events import RecordedEvent, canonical_json
from questlog.projection.projector import ProjectionContext, Projector

Key = tuple[str, str]  # (type, index)
PackKey = tuple[str, str, str]  # (pack, type, index)
_CHUNK = 400  # keys per IN (...) query, well under SQLite's parameter limit


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


class ContentCatalog(Projector):
    name = "content"
    version = 1
    mode = "inline"
    categories = frozenset({"contentpack"})
    event_types = frozenset({
        "ContentPackRegistered", "ContentEntityUpserted", "ContentEntityRemoved",
        "ContentPackImported", "ContentPackRemoved",
    })
    tables = content_tables.ALL

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        session = ctx.session
        pending: dict[PackKey, tuple[str | None, str | None, str, str] | None] = {}
        fresh: dict[PackKey, dict[str, Any]] = {}  # data dicts at hand, saves re-parsing
        touched: set[Key] = set()

        def flush() -> None:
            # tuples in the declared column order (pack, type, idx, name, url, hash, data)
            upserts = [(p, t, i, *row) for (p, t, i), row in pending.items() if row is not None]
            deletes = [{"pack": p, "type": t, "idx": i}
                       for (p, t, i), row in pending.items() if row is None]
            if deletes:
                session.executemany(ctx.statement(PACK_ENTRIES_TABLE, "delete", _delete_entry),
                                    deletes)
            if upserts:
                session.executemany(ctx.upsert(PACK_ENTRIES_TABLE), upserts)
            pending.clear()

        def pack_keys(pack: str) -> set[Key]:
            rows = session.execute(ctx.statement(PACK_ENTRIES_TABLE, "keys", _keys_of_pack),
                                   {"pack": pack})
            return {(str(t), str(i)) for t, i in rows.fetchall()}

        for event in events:
            data = event.data
            if event.type == "ContentEntityUpserted":
                entry = data["data"]
                key = (data["pack"], data["type"], data["index"])
                name, url = entry.get("name"), entry.get("url")
                pending[key] = (name if isinstance(name, str) else None,
                                url if isinstance(url, str) else None,
                                data["content_hash"], canonical_json(entry))
                fresh[key] = entry
                touched.add((data["type"], data["index"]))
            elif event.type == "ContentEntityRemoved":
                pending[(data["pack"], data["type"], data["index"])] = None
                touched.add((data["type"], data["index"]))
            elif event.type == "ContentPackRegistered":
                row = session.execute(ctx.statement(PACKS_TABLE, "priority", _priority_of),
                                      {"pack": data["pack"]}).fetchone()
                session.execute(ctx.upsert(PACKS_TABLE, keep=_IMPORT_COLUMNS), {
                    "name": data["pack"], "version": str(data.get("version", "")),
                    "priority": int(data.get("priority", 0)),
                    "edition": str(data.get("edition", "")),
                    "license": str(data.get("license", "")),
                    "source": str(data.get("source", "")), "registered_position": event.position,
                    **dict.fromkeys(_IMPORT_COLUMNS)})
                if row is not None and int(row[0]) != int(data.get("priority", 0)):
                    flush()
                    touched |= pack_keys(data["pack"])
            elif event.type == "ContentPackImported":
                session.execute(ctx.statement(PACKS_TABLE, "imported", _imported), {
                    "pack": data["pack"], "position": event.position,
                    **{f"n_{k}": data.get(k) for k in _IMPORT_COLUMNS[1:]}})
            elif event.type == "ContentPackRemoved":
                flush()
                touched |= pack_keys(data["pack"])
                session.execute(ctx.statement(PACK_ENTRIES_TABLE, "drop_pack", _drop_entries),
                                {"pack": data["pack"]})
                session.execute(ctx.statement(PACKS_TABLE, "drop_pack", _drop_pack),
                                {"pack": data["pack"]})
                fresh = {k: v for k, v in fresh.items() if k[0] != data["pack"]}
        flush()
        if touched:
            self._refresh(ctx, touched, fresh)

    def _refresh(self, ctx: ProjectionContext, touched: set[Key],
                 fresh: dict[PackKey, dict[str, Any]]) -> None:
        """Recompute the effective entry of every touched (type, index)."""
        session = ctx.session
        packs_t = ctx.table(PACKS_TABLE)
        by_type: dict[str, list[str]] = {}
        for type_name, idx in sorted(touched):
            by_type.setdefault(type_name, []).append(idx)

        # Rows to insert are tuples in their table's declared column order.
        entity_rows: list[tuple[object, ...]] = []
        entity_deletes: list[dict[str, str]] = []
        member_inserts: list[tuple[str, str, str, str]] = []
        typed_rows: dict[str, list[tuple[object, ...]]] = {}
        typed_deletes: dict[str, list[dict[str, str]]] = {}
        for type_name, indexes in by_type.items():
            winners: dict[str, tuple[Any, ...]] = {}
            for chunk in _chunks(indexes):
                # One statement per chunk size (the IN list's length), built once.
                query = ctx.statement(PACK_ENTRIES_TABLE, f"candidates{len(chunk)}",
                                      functools.partial(_candidates, packs=packs_t,
                                                        n=len(chunk)))
                rows = session.execute(query, {"type": type_name, **{
                    f"i{k}": idx for k, idx in enumerate(chunk)}}).fetchall()
                for row in rows:
                    best = winners.get(row[0])
                    # highest priority wins; on a tie the pack name that sorts first
                    if best is None or (-row[2], row[1]) < (-best[2], best[1]):
                        winners[row[0]] = row
            typed = type_name in TYPED_TABLE_TYPES
            for idx in indexes:
                entity_deletes.append({"type": type_name, "idx": idx})
                if typed:
                    typed_deletes.setdefault(type_name, []).append({"idx": idx})
                win = winners.get(idx)
                if win is None:
                    continue
                _, pack, priority, name, url, chash, data_json = win
                entity_rows.append((type_name, idx, pack, priority, name,
                                    name_key(name if name else idx), url, chash, data_json))
                data = fresh.get((pack, type_name, idx))
                if data is None:
                    data = json.loads(data_json)
                member_inserts.extend(member_rows(type_name, idx, data))
                if typed:
                    typed_rows.setdefault(type_name, []).append(
                        type_row(type_name, idx, pack, name, data, data_json))

        for logical in (ENTITIES_TABLE, MEMBERS_TABLE):
            if entity_deletes:
                session.executemany(ctx.statement(logical, "delete", _delete_key),
                                    entity_deletes)
        if entity_rows:
            session.executemany(ctx.statement(ENTITIES_TABLE, "insert", sa.insert), entity_rows)
        if member_inserts:
            session.executemany(ctx.upsert(MEMBERS_TABLE), member_inserts)
        for type_name, deletes in typed_deletes.items():
            logical = type_table(type_name)
            session.executemany(ctx.statement(logical, "delete", _delete_idx), deletes)
            inserts = typed_rows.get(type_name)
            if inserts:
                session.executemany(ctx.statement(logical, "insert", sa.insert), inserts)


# What ContentPackImported records on a pack (a new registration keeps it).
_IMPORT_COLUMNS = ("imported_position", "added", "changed", "removed", "unchanged", "invalid")


def _delete_entry(t: sa.Table) -> sa.Delete:
    return sa.delete(t).where(t.c.pack == sa.bindparam("pack"),
                              t.c.type == sa.bindparam("type"), t.c.idx == sa.bindparam("idx"))


def _keys_of_pack(t: sa.Table) -> sa.Select[Any]:
    return sa.select(t.c.type, t.c.idx).where(t.c.pack == sa.bindparam("pack"))


def _priority_of(t: sa.Table) -> sa.Select[Any]:
    return sa.select(t.c.priority).where(t.c.name == sa.bindparam("pack"))


def _imported(t: sa.Table) -> sa.Update:
    return sa.update(t).where(t.c.name == sa.bindparam("pack")).values(
        imported_position=sa.bindparam("position"),
        **{k: sa.bindparam(f"n_{k}") for k in _IMPORT_COLUMNS[1:]})


def _drop_entries(t: sa.Table) -> sa.Delete:
    return sa.delete(t).where(t.c.pack == sa.bindparam("pack"))


def _drop_pack(t: sa.Table) -> sa.Delete:
    return sa.delete(t).where(t.c.name == sa.bindparam("pack"))


def _delete_key(t: sa.Table) -> sa.Delete:
    return sa.delete(t).where(t.c.type == sa.bindparam("type"), t.c.idx == sa.bindparam("idx"))


def _delete_idx(t: sa.Table) -> sa.Delete:
    return sa.delete(t).where(t.c.idx == sa.bindparam("idx"))


def _candidates(entries: sa.Table, *, packs: sa.Table, n: int) -> sa.Select[Any]:
    """Every pack's entry for `n` indexes (:i0...) of one type (:type), with its pack's
    priority. One statement per chunk size, so each is compiled once."""
    e, p = entries.c, packs.c
    return sa.select(e.idx, e.pack, sa.func.coalesce(p.priority, 0), e.name, e.url,
                     e.content_hash, e.data).select_from(
        entries.outerjoin(packs, p.name == e.pack)).where(
        e.type == sa.bindparam("type"), e.idx.in_([sa.bindparam(f"i{k}") for k in range(n)]))
