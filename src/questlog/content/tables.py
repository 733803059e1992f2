"""The content read models: their tables, declared once, and the queries over them.

The projector (`questlog.projections.content_catalog`) fills these tables; the
repository (`ContentAPI`), the importer and search read them through the queries
here (the filters of `list`/`count` are built by `query.py`). Plain Core, no
pydantic: the projector module imports this whenever a store opens.

The tables and their Core statements are built on first use (`PACKS`, `ENTITIES`, …
are module attributes made by `__getattr__`), and the point reads of one entry are
`KeyLookup`s, which the engines render without SQLAlchemy: `questlog content get` in a
fresh process never imports it (benchmarks/cold_read.py).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, NamedTuple

from ..storage.lookups import KeyLookup
from .columns import (
    ENTITIES_TABLE,
    MEMBERS_TABLE,
    NOCASE,
    PACK_ENTRIES_TABLE,
    PACKS_TABLE,
    TYPED_TABLE_TYPES,
    type_table,
    type_table_columns,
    type_table_indexes,
)

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.sql.expression import Executable

    from ..storage.session import Session

    PACKS: sa.Table
    PACK_ENTRIES: sa.Table
    ENTITIES: sa.Table
    MEMBERS: sa.Table
    TYPED: dict[str, sa.Table]
    ALL: tuple[sa.Table, ...]


class _Declared(NamedTuple):
    tables: dict[str, Any]            # PACKS, PACK_ENTRIES, ENTITIES, MEMBERS, TYPED, ALL
    statements: dict[str, Executable]


_DECLARED: list[_Declared] = []   # the one declaration, once built
_DECLARING = threading.Lock()


def _declared() -> _Declared:
    """The tables and statements, built once: two threads' first uses must not build two
    sets (caches keyed by table, such as the engines' upserts, would hold both)."""
    if not _DECLARED:
        with _DECLARING:
            if not _DECLARED:
                _DECLARED.append(_declare())
    return _DECLARED[0]


def _declare() -> _Declared:
    import sqlalchemy as sa

    from ..storage.readmodels import declare, integer, json_text, text

    packs = declare(
        PACKS_TABLE,
        text("name", primary_key=True), text("version"), integer("priority"), text("edition"),
        text("license"), text("source"), integer("registered_position"),
        integer("imported_position", null=True), integer("added", null=True),
        integer("changed", null=True), integer("removed", null=True),
        integer("unchanged", null=True), integer("invalid", null=True))
    pack_entries = declare(
        PACK_ENTRIES_TABLE,
        text("pack", primary_key=True), text("type", primary_key=True),
        text("idx", primary_key=True), text("name", null=True), text("url", null=True),
        text("content_hash"), json_text("data"),
        indexes=(("type", "idx"),), without_rowid=True)
    entities = declare(
        ENTITIES_TABLE,
        text("type", primary_key=True), text("idx", primary_key=True), text("pack"),
        integer("priority"), sa.Column("name", sa.Text(collation=NOCASE)),
        text("name_key", null=True), text("url", null=True), text("content_hash"),
        json_text("data"),
        indexes=(("name_key",), ("url",), ("pack",)))
    members = declare(
        MEMBERS_TABLE,
        text("type", primary_key=True), text("field", primary_key=True),
        sa.Column("value", sa.Text(collation=NOCASE), primary_key=True),
        text("idx", primary_key=True),
        indexes=(("type", "idx"),), without_rowid=True)
    typed = {t: declare(type_table(t), *type_table_columns(t), indexes=type_table_indexes(t))
             for t in TYPED_TABLE_TYPES}

    E, P, PE = entities.c, packs.c, pack_entries.c
    named = sa.select(E.type, E.idx, E.name, E.pack, E.data).where(
        sa.or_(E.name_key == sa.bindparam("key"), E.idx == sa.bindparam("name")))
    statements: dict[str, Executable] = {
        # effective entries
        "type_counts": sa.select(E.type, sa.func.count()).group_by(E.type),
        "named_any": named.order_by(E.type, E.idx),
        "named_of_type": named.where(E.type == sa.bindparam("type")).order_by(E.type, E.idx),
        "urls": sa.select(E.url).where(E.url.is_not(None)),
        "keys": sa.select(E.type, E.idx),
        "effective_per_pack": sa.select(E.pack, sa.func.count()).group_by(E.pack),
        # packs and their entries
        "pack_info": sa.select(
            P.name, P.version, P.priority, P.edition, P.license, P.source,
            P.imported_position, P.added, P.changed, P.removed, P.unchanged,
            P.invalid).order_by(P.priority.desc(), P.name),
        "pack_names": sa.select(P.name).order_by(P.name),
        "pack_row": sa.select(P.version, P.priority, P.edition, P.license, P.source).where(
            P.name == sa.bindparam("pack")),
        "entries_per_pack": sa.select(PE.pack, sa.func.count()).group_by(PE.pack),
        "pack_hashes": sa.select(PE.type, PE.idx, PE.content_hash).where(
            PE.pack == sa.bindparam("pack")),
        "all_entries": sa.select(PE.pack, PE.type, PE.idx, PE.data).order_by(
            PE.pack, PE.type, PE.idx),
    }
    return _Declared(
        tables={"PACKS": packs, "PACK_ENTRIES": pack_entries, "ENTITIES": entities,
                "MEMBERS": members, "TYPED": typed,
                "ALL": (packs, pack_entries, entities, members, *typed.values())},
        statements=statements)


if not TYPE_CHECKING:  # for mypy the tables are the names declared above, typos and all
    def __getattr__(name: str) -> Any:
        """The declared tables, built on first use."""
        if name in ("PACKS", "PACK_ENTRIES", "ENTITIES", "MEMBERS", "TYPED", "ALL"):
            return _declared().tables[name]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _statement(name: str) -> Executable:
    return _declared().statements[name]


# The point reads of one entry (`content get`, reference resolution): no SQLAlchemy.
_TYPE_LOADED = KeyLookup(ENTITIES_TABLE, ("type",), ("type",), limit=1)
_DATA = KeyLookup(ENTITIES_TABLE, ("data",), ("type", "idx"))
_BY_URL = KeyLookup(ENTITIES_TABLE, ("type", "data"), ("url",), order_by=("type", "idx"),
                    limit=1)
_BY_KEY = KeyLookup(ENTITIES_TABLE, ("type", "data"), ("type", "idx"))


# -- effective entries ------------------------------------------------------------------


def type_counts(session: Session) -> dict[str, int]:
    return {str(t): int(n) for t, n in session.execute(_statement("type_counts"))}


def type_loaded(session: Session, type_name: str) -> bool:
    return session.execute(_TYPE_LOADED, {"type": type_name}).fetchone() is not None


def entry_data(session: Session, type_name: str, idx: str) -> str | None:
    row = session.execute(_DATA, {"type": type_name, "idx": idx}).fetchone()
    return None if row is None else str(row[0])


def by_url(session: Session, url: str, target: tuple[str, str] | None) -> tuple[str, str] | None:
    """(type, data) of the entry whose url is `url`, else of the (type, index) it names."""
    row = session.execute(_BY_URL, {"url": url}).fetchone()
    if row is None and target is not None:
        row = session.execute(_BY_KEY, {"type": target[0], "idx": target[1]}).fetchone()
    return (str(row[0]), str(row[1])) if row is not None else None


def named(session: Session, key: str, name: str, type_name: str | None) -> list[Any]:
    """(type, idx, name, pack, data) of entries whose name key or index matches."""
    if type_name is None:
        return session.execute(_statement("named_any"), {"key": key, "name": name}).fetchall()
    return session.execute(_statement("named_of_type"),
                           {"key": key, "name": name, "type": type_name}).fetchall()


def urls(session: Session) -> set[str]:
    return {str(r[0]) for r in session.execute(_statement("urls"))}


def keys(session: Session) -> set[tuple[str, str]]:
    return {(str(t), str(i)) for t, i in session.execute(_statement("keys"))}


# -- packs and their entries ------------------------------------------------------------


def packs(session: Session) -> list[Any]:
    """Every pack's row, highest priority first: (name, version, priority, edition, license,
    source, imported_position, added, changed, removed, unchanged, invalid)."""
    return session.execute(_statement("pack_info")).fetchall()


def pack_names(session: Session) -> list[str]:
    return [str(r[0]) for r in session.execute(_statement("pack_names"))]


def pack_row(session: Session, pack: str) -> dict[str, Any] | None:
    row = session.execute(_statement("pack_row"), {"pack": pack}).fetchone()
    if row is None:
        return None
    return dict(zip(("version", "priority", "edition", "license", "source"), row, strict=True))


def entries_per_pack(session: Session) -> dict[str, int]:
    return {str(p): int(n) for p, n in session.execute(_statement("entries_per_pack"))}


def effective_per_pack(session: Session) -> dict[str, int]:
    return {str(p): int(n) for p, n in session.execute(_statement("effective_per_pack"))}


def pack_hashes(session: Session, pack: str) -> dict[tuple[str, str], str]:
    rows = session.execute(_statement("pack_hashes"), {"pack": pack})
    return {(str(t), str(i)): str(h) for t, i, h in rows}


def all_entries(session: Session) -> list[Any]:
    """(pack, type, idx, data) of every pack's entries."""
    return session.execute(_statement("all_entries")).fetchall()
