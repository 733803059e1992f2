"""Filters over the content read models, always as parameterized SQL.

A `where` mapping has one item per field (AND-ed). Its value is:

* a scalar: equality (`{"level": 3}`, `{"school": "evocation"}`; text compares
  without regard to case; `None` means IS NULL);
* a list: any of (`{"size": ["Large", "Huge"]}`);
* a mapping of operators, AND-ed: `eq`, `ne`, `lt`, `lte`, `gt`, `gte`,
  `between` ([low, high], inclusive), `in` (list), `like` (SQL LIKE pattern),
  with symbol aliases `=`, `==`, `!=`, `<`, `<=`, `>`, `>=`
  (`{"challenge_rating": {"between": [1, 5]}}`, `{"level": {">=": 3}}`).

Membership fields (`TEXT[]` in `filter_columns`, e.g. a spell's `classes`)
take a value (has it), a list (has any of them), or `{"all": [...]}` /
`{"any": [...]}` / `{"none": [...]}`.

Field names are checked against the type's columns (an unknown one raises
`UnknownFilterField`, an `UnknownContentType`, listing the known ones); values
only ever reach SQL as bound parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..errors import ContentError, UnknownFilterField
from .columns import (
    ENTITIES_TABLE,
    MEMBER_TYPE,
    MEMBERS_TABLE,
    filter_columns,
    type_table,
)
from .types import TYPED_MODELS


class InvalidContentFilter(ContentError):
    """A filter value or operator that does not fit the field it is applied to."""


_OPERATORS: Final = {
    "eq": "=", "=": "=", "==": "=", "ne": "!=", "!=": "!=",
    "lt": "<", "<": "<", "lte": "<=", "<=": "<=", "gt": ">", ">": ">", "gte": ">=", ">=": ">=",
}


def source_of(type_name: str) -> tuple[str, list[object]]:
    """The table a type is read from and the condition that scopes it to the type."""
    if type_name in TYPED_MODELS:
        return type_table(type_name), []
    return ENTITIES_TABLE, [type_name]


def _check_value(field: str, sql_type: str, value: object) -> object:
    if value is None:
        return None
    if sql_type in ("TEXT", MEMBER_TYPE):
        if isinstance(value, str):
            return value
    elif sql_type == "INTEGER":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif sql_type == "REAL":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif sql_type == "BOOLEAN":
        if isinstance(value, bool):
            return int(value)
        if value in (0, 1):
            return int(value)
    raise InvalidContentFilter(
        f"filter {field!r} is {sql_type}; {value!r} ({type(value).__name__}) does not fit")


def _scalar_condition(column: str, field: str, sql_type: str, value: object,
                      params: list[object]) -> list[str]:
    col = f'"{column}"'
    if isinstance(value, Mapping):
        if not value:
            raise InvalidContentFilter(f"filter {field!r}: empty operator mapping")
        parts: list[str] = []
        for op, operand in value.items():
            if op == "between":
                if not isinstance(operand, Sequence) or isinstance(operand, str) \
                        or len(operand) != 2:
                    raise InvalidContentFilter(f"filter {field!r}: between takes [low, high]")
                params.extend(_check_value(field, sql_type, v) for v in operand)
                parts.append(f"{col} BETWEEN ? AND ?")
            elif op == "in":
                parts.extend(_scalar_condition(column, field, sql_type, list(operand), params))
            elif op == "like":
                if not isinstance(operand, str):
                    raise InvalidContentFilter(f"filter {field!r}: like takes a string pattern")
                params.append(operand)
                parts.append(f"{col} LIKE ?")
            elif op in _OPERATORS:
                checked = _check_value(field, sql_type, operand)
                if checked is None:
                    parts.append(f"{col} IS {'NOT ' if _OPERATORS[op] == '!=' else ''}NULL")
                else:
                    params.append(checked)
                    parts.append(f"{col} {_OPERATORS[op]} ?")
            else:
                raise InvalidContentFilter(
                    f"filter {field!r}: unknown operator {op!r}; known: "
                    f"{', '.join(sorted(set(_OPERATORS) | {'between', 'in', 'like'}))}")
        return parts
    if isinstance(value, (list, tuple, set, frozenset)):
        values = [_check_value(field, sql_type, v) for v in value]
        if not values:
            return ["0"]
        params.extend(values)
        return [f"{col} IN ({', '.join('?' * len(values))})"]
    checked = _check_value(field, sql_type, value)
    if checked is None:
        return [f"{col} IS NULL"]
    params.append(checked)
    return [f"{col} = ?"]


def _member_condition(type_name: str, field: str, value: object,
                      params: list[object]) -> list[str]:
    sub = (f"idx IN (SELECT idx FROM {MEMBERS_TABLE} WHERE type = ? AND field = ? "
           "AND value IN ({marks}))")
    if isinstance(value, Mapping):
        parts: list[str] = []
        for op, operand in value.items():
            values = [operand] if isinstance(operand, str) else list(operand)
            checked = [_check_value(field, MEMBER_TYPE, v) for v in values]
            if op in ("all",):
                for v in checked:
                    params.extend([type_name, field, v])
                    parts.append(sub.format(marks="?"))
            elif op in ("any", "in", "eq", "=", "=="):
                params.extend([type_name, field, *checked])
                parts.append(sub.format(marks=", ".join("?" * len(checked))) if checked else "0")
            elif op in ("none", "ne", "!="):
                if checked:
                    params.extend([type_name, field, *checked])
                    parts.append("NOT " + sub.format(marks=", ".join("?" * len(checked))))
            else:
                raise InvalidContentFilter(
                    f"membership filter {field!r}: unknown operator {op!r}; "
                    "known: all, any, in, eq, none, ne")
        return parts
    values = [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    checked = [_check_value(field, MEMBER_TYPE, v) for v in values]
    if not checked:
        return ["0"]
    params.extend([type_name, field, *checked])
    return [sub.format(marks=", ".join("?" * len(checked)))]


def where_clause(type_name: str, where: Mapping[str, Any] | None) -> tuple[str, list[object]]:
    """`WHERE ...` (possibly empty, scoped to the type) and its parameters."""
    table, scope = source_of(type_name)
    columns = filter_columns(type_name)
    params: list[object] = list(scope)
    parts: list[str] = ["type = ?"] if scope else []
    for field, value in (where or {}).items():
        sql_type = columns.get(field)
        if sql_type is None:
            raise UnknownFilterField(
                f"unknown filter field {field!r} for content type {type_name!r}; "
                f"known: {', '.join(sorted(columns))}")
        if sql_type == MEMBER_TYPE:
            parts.extend(_member_condition(type_name, field, value, params))
        else:
            parts.extend(_scalar_condition(field, field, sql_type, value, params))
    return (" WHERE " + " AND ".join(parts) if parts else ""), params


def filter_sql(type_name: str, where: Mapping[str, Any] | None) -> tuple[str, list[object]]:
    """`SELECT idx FROM <table> WHERE ...` for the entries of a type matching `where`."""
    table, _ = source_of(type_name)
    clause, params = where_clause(type_name, where)
    return f"SELECT idx FROM {table}{clause}", params


def order_clause(type_name: str, order_by: str | Sequence[str] | None) -> str:
    """`ORDER BY ...` over filter columns (a leading '-' sorts descending); idx breaks ties."""
    if order_by is None:
        return " ORDER BY idx"
    fields = [order_by] if isinstance(order_by, str) else list(order_by)
    columns = filter_columns(type_name)
    parts: list[str] = []
    for spec in fields:
        descending = spec.startswith("-")
        field = spec.lstrip("-+")
        if field in ("idx", "index"):
            field = "idx"
        elif columns.get(field) in (None, MEMBER_TYPE):
            sortable = sorted(k for k, v in columns.items() if v != MEMBER_TYPE)
            raise UnknownFilterField(
                f"cannot order {type_name!r} by {field!r}; known: index, {', '.join(sortable)}")
        parts.append(f'"{field}"{" DESC" if descending else ""}')
    return " ORDER BY " + ", ".join([*parts, "idx"])
