"""The content read models: their tables, declared once, and the queries over them.

The projector (`questlog.projections.content_catalog`) fills these tables; the
repository (`ContentAPI`), the importer and search read them through the queries
here (the filters of `list`/`count` are built by `query.py`). Plain Core, no
pydantic: the projector module imports this whenever a store opens.
"""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa

from ..storage.readmodels import declare, integer, json_text, text
from ..storage.session import Session
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

PACKS: Final = declare(
    PACKS_TABLE,
    text("name", primary_key=True), text("version"), integer("priority"), text("edition"),
    text("license"), text("source"), integer("registered_position"),
    integer("imported_position", null=True), integer("added", null=True),
    integer("changed", null=True), integer("removed", null=True),
    integer("unchanged", null=True), integer("invalid", null=True))
PACK_ENTRIES: Final = declare(
    PACK_ENTRIES_TABLE,
    text("pack", primary_key=True), text("type", primary_key=True),
    text("idx", primary_key=True), text("name", null=True), text("url", null=True),
    text("content_hash"), json_text("data"),
    indexes=(("type", "idx"),), without_rowid=True)
ENTITIES: Final = declare(
    ENTITIES_TABLE,
    text("type", primary_key=True), text("idx", primary_key=True), text("pack"),
    integer("priority"), sa.Column("name", sa.Text(collation=NOCASE)),
    text("name_key", null=True), text("url", null=True), text("content_hash"), json_text("data"),
    indexes=(("name_key",), ("url",), ("pack",)))
MEMBERS: Final = declare(
    MEMBERS_TABLE,
    text("type", primary_key=True), text("field", primary_key=True),
    sa.Column("value", sa.Text(collation=NOCASE), primary_key=True),
    text("idx", primary_key=True),
    indexes=(("type", "idx"),), without_rowid=True)
TYPED: Final = {t: declare(type_table(t), *type_table_columns(t), indexes=type_table_indexes(t))
                for t in TYPED_TABLE_TYPES}
ALL: Final = (PACKS, PACK_ENTRIES, ENTITIES, MEMBERS, *TYPED.values())

E, P, PE = ENTITIES.c, PACKS.c, PACK_ENTRIES.c

# -- effective entries ------------------------------------------------------------------

_TYPE_COUNTS = sa.select(E.type, sa.func.count()).group_by(E.type)
_TYPE_LOADED = sa.select(sa.literal(1)).where(E.type == sa.bindparam("type")).limit(1)
_DATA = sa.select(E.data).where(E.type == sa.bindparam("type"), E.idx == sa.bindparam("idx"))
_BY_URL = sa.select(E.type, E.data).where(E.url == sa.bindparam("url")).order_by(
    E.type, E.idx).limit(1)
_BY_KEY = sa.select(E.type, E.data).where(E.type == sa.bindparam("type"),
                                          E.idx == sa.bindparam("idx"))
_NAMED = sa.select(E.type, E.idx, E.name, E.pack, E.data).where(
    sa.or_(E.name_key == sa.bindparam("key"), E.idx == sa.bindparam("name")))
_NAMED_ANY = _NAMED.order_by(E.type, E.idx)
_NAMED_OF_TYPE = _NAMED.where(E.type == sa.bindparam("type")).order_by(E.type, E.idx)
_URLS = sa.select(E.url).where(E.url.is_not(None))
_KEYS = sa.select(E.type, E.idx)
_EFFECTIVE_PER_PACK = sa.select(E.pack, sa.func.count()).group_by(E.pack)


def type_counts(session: Session) -> dict[str, int]:
    return {str(t): int(n) for t, n in session.execute(_TYPE_COUNTS)}


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
        return session.execute(_NAMED_ANY, {"key": key, "name": name}).fetchall()
    return session.execute(_NAMED_OF_TYPE, {"key": key, "name": name,
                                            "type": type_name}).fetchall()


def urls(session: Session) -> set[str]:
    return {str(r[0]) for r in session.execute(_URLS)}


def keys(session: Session) -> set[tuple[str, str]]:
    return {(str(t), str(i)) for t, i in session.execute(_KEYS)}


# -- packs and their entries ------------------------------------------------------------

_PACK_INFO = sa.select(P.name, P.version, P.priority, P.edition, P.license, P.source,
                       P.imported_position, P.added, P.changed, P.removed, P.unchanged,
                       P.invalid).order_by(P.priority.desc(), P.name)
_PACK_NAMES = sa.select(P.name).order_by(P.name)
_PACK_ROW = sa.select(P.version, P.priority, P.edition, P.license, P.source).where(
    P.name == sa.bindparam("pack"))
_ENTRIES_PER_PACK = sa.select(PE.pack, sa.func.count()).group_by(PE.pack)
_PACK_HASHES = sa.select(PE.type, PE.idx, PE.content_hash).where(PE.pack == sa.bindparam("pack"))
_ALL_ENTRIES = sa.select(PE.pack, PE.type, PE.idx, PE.data).order_by(PE.pack, PE.type, PE.idx)


def packs(session: Session) -> list[Any]:
    """Every pack's row, highest priority first: (name, version, priority, edition, license,
    source, imported_position, added, changed, removed, unchanged, invalid)."""
    return session.execute(_PACK_INFO).fetchall()


def pack_names(session: Session) -> list[str]:
    return [str(r[0]) for r in session.execute(_PACK_NAMES)]


def pack_row(session: Session, pack: str) -> dict[str, Any] | None:
    row = session.execute(_PACK_ROW, {"pack": pack}).fetchone()
    if row is None:
        return None
    return dict(zip(("version", "priority", "edition", "license", "source"), row, strict=True))


def entries_per_pack(session: Session) -> dict[str, int]:
    return {str(p): int(n) for p, n in session.execute(_ENTRIES_PER_PACK)}


def effective_per_pack(session: Session) -> dict[str, int]:
    return {str(p): int(n) for p, n in session.execute(_EFFECTIVE_PER_PACK)}


def pack_hashes(session: Session, pack: str) -> dict[tuple[str, str], str]:
    return {(str(t), str(i)): str(h) for t, i, h in session.execute(_PACK_HASHES,
                                                                    {"pack": pack})}


def all_entries(session: Session) -> list[Any]:
    """(pack, type, idx, data) of every pack's entries."""
    return session.execute(_ALL_ENTRIES).fetchall()
