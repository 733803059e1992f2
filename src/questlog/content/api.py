"""The content repository: `store.content` — typed lookups, filters, packs, imports.

Every method returns pydantic models (typed for the 25 SRD types, a
`GenericEntry` otherwise), never rows. Reads use short read transactions on
the store; imports and removals go through `store.append` like every write.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from ..caching import CONTENT, PositionLRU
from ..errors import ContentNotFound, UnknownContentType
from . import tables
from .columns import ENTITIES_TABLE, filter_columns, name_key
from .references import iter_references, target_of
from .types import SRD_TYPES, typed_model

if TYPE_CHECKING:
    from ..storage.session import Session
    from ..store import Store
    from .results import CheckReport, ContentMatch, DanglingReference, ImportReport, PackInfo
    from .validation import Progress

ContentEntity = BaseModel  # a typed entry model or a GenericEntry


def to_model(type_name: str, data_json: str) -> ContentEntity:
    """The typed model of an entry when it fits, else a GenericEntry (other editions)."""
    model = typed_model(type_name)
    if model is not None:
        try:
            return model.model_validate_json(data_json)
        except ValidationError:
            pass
    from .generic import GenericEntry  # built only when an entry needs it

    return GenericEntry.from_data(type_name, json.loads(data_json))


class ContentAPI:
    """Content packs and their read models for one store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # Effective entries keyed by the content checkpoint (questlog.caching): never stale.
        self._entries: PositionLRU[ContentEntity] = PositionLRU(
            store.settings.read_cache_entries)
        self._built = False   # whether the content tables exist (asked until they do)

    # -- helpers ---------------------------------------------------------------------------

    def _ready(self, conn: Session) -> bool:
        # Read-model tables appear when the writer first starts; a store that never
        # imported content has none yet, which reads treat as "no content". Once there,
        # they stay (rebuilds swap them in one transaction).
        if not self._built:
            self._built = self.store.readmodels.exists(conn, ENTITIES_TABLE)
        return self._built

    def _present_types(self, conn: Session) -> dict[str, int]:
        if not self._ready(conn):
            return {}
        return tables.type_counts(conn)

    def _check_type(self, conn: Session, type_name: str) -> None:
        if type_name in SRD_TYPES:
            return
        if self._ready(conn) and tables.type_loaded(conn, type_name):
            return
        present = self._present_types(conn)
        if type_name not in present:
            known = sorted(set(SRD_TYPES) | set(present))
            raise UnknownContentType(
                f"unknown content type {type_name!r}; known: {', '.join(known)}")

    # -- lookups ---------------------------------------------------------------------------

    def get(self, type: str, index: str, resolve: bool = False) -> ContentEntity:
        """The effective entry of (type, index); raises ContentNotFound."""
        backend = self.store.backend
        key = (type, index, resolve)
        # A read node whose file is unchanged knows the token without a connection.
        token = CONTENT.known_token(backend.token_memo)
        if token is not None and (cached := self._entries.get(token, key)) is not None:
            return cached.model_copy(deep=True)  # callers may change what they get
        with self.store.read() as conn:
            if token is None:
                token = CONTENT.first_token(backend.read_positions, backend.token_memo, conn)
                cached = self._entries.get(token, key)
                if cached is not None:
                    return cached.model_copy(deep=True)
            # (A known token was current at the stat, before this session began: what
            # the session reads is at least that new.)
            self._check_type(conn, type)
            data = tables.entry_data(conn, type, index) if self._ready(conn) else None
            if data is None:
                raise ContentNotFound(f"no {type} entry {index!r}")
            entity = to_model(type, data)
            if resolve:
                self._resolve(conn, entity, json.loads(data))
        self._entries.put(token, key, entity.model_copy(deep=True))
        return entity

    def _resolve(self, conn: Session, entity: ContentEntity,
                 data: dict[str, Any]) -> None:
        resolved: dict[str, BaseModel] = getattr(entity, "_resolved")  # noqa: B009
        for _path, url in iter_references(data):
            if url in resolved:
                continue
            found = tables.by_url(conn, url, target_of(url))
            if found is not None:
                resolved[url] = to_model(found[0], found[1])

    def list(self, type: str, where: Mapping[str, Any] | None = None,
             order_by: str | Sequence[str] | None = None, limit: int | None = None,
             offset: int = 0) -> builtins.list[ContentEntity]:
        """Entries of a type matching `where` (see questlog.content.query for the forms)."""
        from .query import list_statement  # Core statements: SQLAlchemy, off `get`'s path

        statement = list_statement(type, where, order_by, limit, offset)
        with self.store.read() as conn:
            self._check_type(conn, type)
            if not self._ready(conn):
                return []
            rows = conn.execute(statement).fetchall()
        return [to_model(type, str(r[0])) for r in rows]

    def count(self, type: str, where: Mapping[str, Any] | None = None) -> int:
        from .query import count_statement

        statement = count_statement(type, where)
        with self.store.read() as conn:
            self._check_type(conn, type)
            if not self._ready(conn):
                return 0
            row = conn.execute(statement).fetchone()
        return int(row[0])

    def find_by_name(self, name: str, type: str | None = None) -> builtins.list[ContentMatch]:
        """Entries whose name (or index) matches ignoring case, spaces and punctuation."""
        key = name_key(name)
        if not key:
            return []
        with self.store.read() as conn:
            if type is not None:
                self._check_type(conn, type)
            if not self._ready(conn):
                return []
            rows = tables.named(conn, key, name, type)
        from .results import ContentMatch

        return [ContentMatch(type=str(t), index=str(i), name=n, pack=str(p),
                             entity=to_model(str(t), str(d))) for t, i, n, p, d in rows]

    def types(self) -> builtins.list[str]:
        """Every known type: the 25 SRD types and any other type loaded from a pack."""
        with self.store.read() as conn:
            present = self._present_types(conn)
        return sorted(set(SRD_TYPES) | set(present))

    def type_counts(self) -> dict[str, int]:
        """Effective entries per loaded type."""
        with self.store.read() as conn:
            return dict(sorted(self._present_types(conn).items()))

    def filter_columns(self, type: str) -> dict[str, str]:
        """Filterable fields of a type -> SQL type (`TEXT[]` marks membership fields)."""
        with self.store.read() as conn:
            self._check_type(conn, type)
        return filter_columns(type)

    def filter_sql(self, type: str,
                   where: Mapping[str, Any] | None) -> tuple[str, builtins.list[object]]:
        """A parameterized `SELECT idx FROM content_<type> WHERE ...` and its parameters, in
        the store's SQL dialect (search restricts its indexes with it)."""
        from .query import filter_statement

        statement = filter_statement(type, where)
        with self.store.read() as conn:
            self._check_type(conn, type)
            sql, params = conn.render(statement)
        return sql, list(params)

    def check_filters(self, types: Sequence[str] = (), packs: Sequence[str] = ()) -> None:
        """A filter on a type or pack this store does not know is an error, never "no
        hits": UnknownContentType (as `list` raises) or ContentPackNotFound."""
        with self.store.read() as conn:
            for type_name in types:
                self._check_type(conn, type_name)
        if packs:
            known = sorted(p.name for p in self.packs())
            for name in packs:
                if name not in known:
                    from .importer import pack_not_found

                    raise pack_not_found(name, known)

    # -- packs -----------------------------------------------------------------------------

    def packs(self) -> builtins.list[PackInfo]:
        from .results import PackInfo

        with self.store.read() as conn:
            if not self._ready(conn):
                return []
            entries = tables.entries_per_pack(conn)
            effective = tables.effective_per_pack(conn)
            rows = tables.packs(conn)
        result = []
        for row in rows:
            last = None
            if row[6] is not None:
                last = dict(zip(("position", "added", "changed", "removed", "unchanged",
                                 "invalid"), row[6:], strict=True))
            result.append(PackInfo(
                name=row[0], version=row[1], priority=row[2], edition=row[3], license=row[4],
                source=row[5], entries=int(entries.get(row[0], 0)),
                effective=int(effective.get(row[0], 0)), last_import=last))
        return result

    def check(self) -> CheckReport:
        """Dangling references per pack: references no loaded entry answers."""
        from .results import CheckReport, DanglingReference

        with self.store.read() as conn:
            if not self._ready(conn):
                return CheckReport(references=0, dangling={})
            urls = tables.urls(conn)
            keys = tables.keys(conn)
            packs = tables.pack_names(conn)
            rows = tables.all_entries(conn)
        dangling: dict[str, builtins.list[DanglingReference]] = {p: [] for p in sorted(packs)}
        total = 0
        for pack, type_name, idx, data_json in rows:
            for path, url in iter_references(json.loads(data_json)):
                total += 1
                if url in urls or target_of(url) in keys:
                    continue
                dangling.setdefault(str(pack), []).append(DanglingReference(
                    type=str(type_name), index=str(idx), path=path, url=url))
        return CheckReport(references=total, dangling=dangling)

    def import_pack(self, path: str | Path, pack: str | None = None,
                    priority: int | None = None, edition: str | None = None,
                    skip_invalid: bool = False, dry_run: bool = False,
                    progress: Progress | None = None) -> ImportReport:
        """Validate a pack directory and append its changes (see questlog.content.importer)."""
        from .importer import import_pack

        return import_pack(self.store, path, pack=pack, priority=priority, edition=edition,
                           skip_invalid=skip_invalid, dry_run=dry_run, progress=progress)

    def remove_pack(self, name: str) -> int:
        """Remove a pack (ContentPackRemoved); lower packs' entries become visible again."""
        from .importer import remove_pack

        return remove_pack(self.store, name)
