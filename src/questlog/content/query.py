"""Filters over the content read models, as SQLAlchemy Core conditions on their tables.

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
only ever reach SQL as bound parameters. The conditions are built on the tables
declared in `tables.py`, so each backend compiles them to its own dialect (text
compares without regard to case through the columns' collation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import sqlalchemy as sa

from ..errors import ContentError, UnknownFilterField
from . import tables
from .columns import MEMBER_TYPE, filter_columns
from .types import TYPED_MODELS

Condition = sa.ColumnElement[bool]


class InvalidContentFilter(ContentError):
    """A filter value or operator that does not fit the field it is applied to."""


_OPERATORS: Final = {
    "eq": "=", "=": "=", "==": "=", "ne": "!=", "!=": "!=",
    "lt": "<", "<": "<", "lte": "<=", "<=": "<=", "gt": ">", ">": ">", "gte": ">=", ">=": ">=",
}


def _compare(column: sa.ColumnElement[Any], op: str, value: object) -> Condition:
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    return column >= value


def source_of(type_name: str) -> tuple[sa.Table, list[Condition]]:
    """The table a type is read from and the condition that scopes it to the type."""
    if type_name in TYPED_MODELS:
        return tables.TYPED[type_name], []
    return tables.ENTITIES, [tables.ENTITIES.c.type == type_name]


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


def _scalar_condition(col: sa.ColumnElement[Any], field: str, sql_type: str,
                      value: object) -> list[Condition]:
    if isinstance(value, Mapping):
        if not value:
            raise InvalidContentFilter(f"filter {field!r}: empty operator mapping")
        parts: list[Condition] = []
        for op, operand in value.items():
            if op == "between":
                if not isinstance(operand, Sequence) or isinstance(operand, str) \
                        or len(operand) != 2:
                    raise InvalidContentFilter(f"filter {field!r}: between takes [low, high]")
                low, high = (_check_value(field, sql_type, v) for v in operand)
                parts.append(col.between(low, high))
            elif op == "in":
                parts.extend(_scalar_condition(col, field, sql_type, list(operand)))
            elif op == "like":
                if not isinstance(operand, str):
                    raise InvalidContentFilter(f"filter {field!r}: like takes a string pattern")
                parts.append(col.like(operand))
            elif op in _OPERATORS:
                checked = _check_value(field, sql_type, operand)
                if checked is None:
                    parts.append(col.is_not(None) if _OPERATORS[op] == "!=" else col.is_(None))
                else:
                    parts.append(_compare(col, _OPERATORS[op], checked))
            else:
                raise InvalidContentFilter(
                    f"filter {field!r}: unknown operator {op!r}; known: "
                    f"{', '.join(sorted(set(_OPERATORS) | {'between', 'in', 'like'}))}")
        return parts
    if isinstance(value, (list, tuple, set, frozenset)):
        values = [_check_value(field, sql_type, v) for v in value]
        if not values:
            return [sa.false()]
        return [col.in_(values)]
    checked = _check_value(field, sql_type, value)
    if checked is None:
        return [col.is_(None)]
    return [col == checked]


def _members(type_name: str, field: str, values: list[object]) -> sa.Select[Any]:
    """The entries of a type whose membership field holds any of `values`."""
    m = tables.MEMBERS.c
    return sa.select(m.idx).where(m.type == type_name, m.field == field, m.value.in_(values))


def _member_condition(idx: sa.ColumnElement[Any], type_name: str, field: str,
                      value: object) -> list[Condition]:
    if isinstance(value, Mapping):
        parts: list[Condition] = []
        for op, operand in value.items():
            values = [operand] if isinstance(operand, str) else list(operand)
            checked = [_check_value(field, MEMBER_TYPE, v) for v in values]
            if op in ("all",):
                parts.extend(idx.in_(_members(type_name, field, [v])) for v in checked)
            elif op in ("any", "in", "eq", "=", "=="):
                parts.append(idx.in_(_members(type_name, field, checked)) if checked
                             else sa.false())
            elif op in ("none", "ne", "!="):
                if checked:
                    parts.append(idx.not_in(_members(type_name, field, checked)))
            else:
                raise InvalidContentFilter(
                    f"membership filter {field!r}: unknown operator {op!r}; "
                    "known: all, any, in, eq, none, ne")
        return parts
    values = [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    checked = [_check_value(field, MEMBER_TYPE, v) for v in values]
    if not checked:
        return [sa.false()]
    return [idx.in_(_members(type_name, field, checked))]


def conditions(type_name: str, where: Mapping[str, Any] | None
               ) -> tuple[sa.Table, list[Condition]]:
    """The table of a type and the AND-ed conditions (scoped to the type) of `where`."""
    table, parts = source_of(type_name)
    columns = filter_columns(type_name)
    for field, value in (where or {}).items():
        sql_type = columns.get(field)
        if sql_type is None:
            raise UnknownFilterField(
                f"unknown filter field {field!r} for content type {type_name!r}; "
                f"known: {', '.join(sorted(columns))}")
        if sql_type == MEMBER_TYPE:
            parts.extend(_member_condition(table.c.idx, type_name, field, value))
        else:
            parts.extend(_scalar_condition(table.c[field], field, sql_type, value))
    return table, parts


def filter_statement(type_name: str, where: Mapping[str, Any] | None) -> sa.Select[Any]:
    """`SELECT idx FROM <table> WHERE ...` for the entries of a type matching `where`."""
    table, parts = conditions(type_name, where)
    return _one_off(sa.select(table.c.idx).where(*parts))


def ordering(table: sa.Table, type_name: str,
             order_by: str | Sequence[str] | None) -> list[sa.ColumnElement[Any]]:
    """`ORDER BY` terms over filter columns (a leading '-' sorts descending); idx breaks
    ties."""
    if order_by is None:
        return [table.c.idx]
    fields = [order_by] if isinstance(order_by, str) else list(order_by)
    columns = filter_columns(type_name)
    parts: list[sa.ColumnElement[Any]] = []
    for spec in fields:
        descending = spec.startswith("-")
        field = spec.lstrip("-+")
        if field in ("idx", "index"):
            field = "idx"
        elif columns.get(field) in (None, MEMBER_TYPE):
            sortable = sorted(k for k, v in columns.items() if v != MEMBER_TYPE)
            raise UnknownFilterField(
                f"cannot order {type_name!r} by {field!r}; known: index, {', '.join(sortable)}")
        column = table.c[field]
        parts.append(column.desc() if descending else column)
    return [*parts, table.c.idx]


def list_statement(type_name: str, where: Mapping[str, Any] | None,
                   order_by: str | Sequence[str] | None, limit: int | None,
                   offset: int) -> sa.Select[Any]:
    """The entries' data of a type matching `where`, ordered, one page of them."""
    table, parts = conditions(type_name, where)
    statement = sa.select(table.c.data).where(*parts).order_by(
        *ordering(table, type_name, order_by))
    if limit is not None or offset:
        statement = statement.limit(None if limit is None else int(limit)).offset(int(offset))
    return _one_off(statement)


def count_statement(type_name: str, where: Mapping[str, Any] | None) -> sa.Select[Any]:
    table, parts = conditions(type_name, where)
    return _one_off(sa.select(sa.func.count()).select_from(table).where(*parts))


def _one_off(statement: sa.Select[Any]) -> sa.Select[Any]:
    # Built per call (its shape follows the filter): a session compiles it without
    # keeping the compiled form, which would push out the statements built once.
    return statement.execution_options(one_off=True)
