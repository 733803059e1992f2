"""Search filters as SQLite conditions on the chunks table (shared by the keyword and
vector indexes, so both restrict a query the same way)."""

from __future__ import annotations

from ..storage.vectors import Filters


def marks(n: int) -> str:
    return ", ".join("?" * n)


def id_query(chunks_table: str, filters: Filters) -> tuple[str, list[object]] | None:
    """`SELECT id FROM chunks ...` for an explicit id query or an entry filter, else None."""
    if filters.id_sql is not None:
        return filters.id_sql
    entries = filters.entries
    if entries is None:
        return None
    sql = f"SELECT id FROM {chunks_table} WHERE type = ? AND idx IN ({entries.query})"
    params: list[object] = [entries.type, *entries.params]
    if filters.packs:
        sql += f" AND pack IN ({marks(len(filters.packs))})"
        params += list(filters.packs)
    return sql, params


def conditions(chunks_alias: str, chunks_table: str,
               filters: Filters) -> tuple[list[str], list[object]]:
    """AND-ed conditions on `chunks_alias` (a row of the chunks table) and their parameters."""
    ids = id_query(chunks_table, filters)
    if ids is not None:
        return [f"{chunks_alias}.id IN ({ids[0]})"], list(ids[1])
    conds: list[str] = []
    params: list[object] = []
    if filters.types:
        conds.append(f"{chunks_alias}.type IN ({marks(len(filters.types))})")
        params += list(filters.types)
    if filters.packs:
        conds.append(f"{chunks_alias}.pack IN ({marks(len(filters.packs))})")
        params += list(filters.packs)
    return conds, params
