"""Content filters written as text: `FIELD=VALUE`, `FIELD>=VALUE`, `FIELD=A,B`, ...

The one grammar of `questlog content list --where`, `questlog search --where` and
the HTTP `?where=` parameter (`/content/{type}`, `/search`); it turns the items
into the `where` mapping of `questlog.content.query` (values typed by the
content type's filter columns). A malformed item raises `InvalidContentFilter`;
a field the type does not have is left for the query to refuse
(`UnknownFilterField`, listing the known ones).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from .columns import MEMBER_TYPE
from .query import InvalidContentFilter

_ITEM_RE: Final = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|!=|=|>|<)\s*(.*?)\s*$")
_OPERATORS: Final = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt", "!=": "ne"}
_TRUE: Final = frozenset({"true", "yes", "1", "y", "t"})
_FALSE: Final = frozenset({"false", "no", "0", "n", "f"})


def _convert(field: str, sql_type: str, text: str) -> object:
    try:
        if sql_type == "INTEGER":
            return int(text)
        if sql_type == "REAL":
            return float(text)
    except ValueError:
        raise InvalidContentFilter(f"{field} takes a number, not {text!r}") from None
    if sql_type == "BOOLEAN":
        lowered = text.lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        raise InvalidContentFilter(f"{field} takes true or false, not {text!r}")
    return text


def parse_where(items: Iterable[str], columns: Mapping[str, str]) -> dict[str, Any]:
    """`FIELD=VALUE`, `FIELD>=VALUE`, ... into the content API's `where` mapping.

    `columns` is the type's `filter_columns`. `a,b` after `=` means any of; a
    membership field given twice needs both; operators on one field combine
    (`cr>=1 cr<=5`).
    """
    where: dict[str, Any] = {}
    for item in items:
        match = _ITEM_RE.match(item)
        if match is None:
            raise InvalidContentFilter(f"expected FIELD=VALUE or FIELD>=VALUE, got {item!r}")
        field, op, raw = match.groups()
        sql_type = columns.get(field, "TEXT")
        if sql_type == MEMBER_TYPE:
            values = [v.strip() for v in raw.split(",") if v.strip()]
            if op not in ("=", "!="):
                raise InvalidContentFilter(f"{field} is a membership field: use = or !=")
            condition = where.setdefault(field, {})
            key = "none" if op == "!=" else ("any" if len(values) > 1 else "all")
            condition.setdefault(key, []).extend(values)
            continue
        if op == "=" and "," in raw and sql_type == "TEXT":
            value: object = [v.strip() for v in raw.split(",")]
        elif op == "=" and "," in raw:
            value = [_convert(field, sql_type, v.strip()) for v in raw.split(",")]
        else:
            value = _convert(field, sql_type, raw)
        if op == "=" and field not in where:
            where[field] = value
            continue
        existing = where.get(field)
        condition = existing if isinstance(existing, dict) else (
            {} if existing is None else {"eq": existing})
        condition[_OPERATORS.get(op, "eq")] = value
        where[field] = condition
    return where
