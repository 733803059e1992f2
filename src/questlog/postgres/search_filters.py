"""Search filters as PostgreSQL conditions on the chunks table (shared by the keyword and
vector indexes, so both restrict a query the same way). Every value is a bound parameter;
a list of types or packs is one array parameter (`= ANY(%s)`)."""

from __future__ import annotations

from ..storage.vectors import Filters


def qmark_to_format(sql: str) -> str:
    """A content filter (`ContentAPI.filter_sql`, written with SQLite's `?` placeholders,
    its values all bound parameters and its names declared columns, so no `?` or `%` is
    anything but a placeholder) in psycopg's `%s` style."""
    return sql.replace("%", "%%").replace("?", "%s")


def id_query(chunks_table: str, filters: Filters) -> tuple[str, list[object]] | None:
    """`SELECT id FROM chunks ...` for an explicit id query or an entry filter, else None."""
    if filters.id_sql is not None:
        return filters.id_sql
    entries = filters.entries
    if entries is None:
        return None
    sql = (f"SELECT id FROM {chunks_table} WHERE type = %s "
           f"AND idx IN ({qmark_to_format(entries.query)})")
    params: list[object] = [entries.type, *entries.params]
    if filters.packs:
        sql += " AND pack = ANY(%s)"
        params.append(list(filters.packs))
    return sql, params


def conditions(alias: str, chunks_table: str,
               filters: Filters) -> tuple[list[str], list[object]]:
    """AND-ed conditions on `alias` (a row with the chunks' id, type and pack columns) and
    their parameters."""
    ids = id_query(chunks_table, filters)
    if ids is not None:
        return [f"{alias}.id IN ({ids[0]})"], list(ids[1])
    conds: list[str] = []
    params: list[object] = []
    if filters.types:
        conds.append(f"{alias}.type = ANY(%s)")
        params.append(list(filters.types))
    if filters.packs:
        conds.append(f"{alias}.pack = ANY(%s)")
        params.append(list(filters.packs))
    return conds, params
