"""The read-model schema of content: table names, per-type filter columns, extractors.

Shared by the projector (which fills the tables) and the repository API (which
queries them), so the two cannot drift apart. Everything here is plain Python:
the projector module imports it whenever a store opens, so no pydantic models.

Extractors read raw entry JSON defensively: an entry of another edition, stored
as a generic entry under an SRD type name, yields NULLs rather than an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

from .types import SRD_TYPES

if TYPE_CHECKING:  # loaded by the functions that build columns: `content get` needs none
    import sqlalchemy as sa

SqlType = Literal["TEXT", "INTEGER", "REAL", "BOOLEAN"]
# Names and filter values compare case-insensitively (SQLite's NOCASE: ASCII letters).
NOCASE: Final = "NOCASE"
MEMBER_TYPE: Final = "TEXT[]"  # what filter_columns reports for a membership field

ENTITIES_TABLE: Final = "content_entities"
PACK_ENTRIES_TABLE: Final = "content_pack_entries"
PACKS_TABLE: Final = "content_packs"
MEMBERS_TABLE: Final = "content_members"


def type_table(type_name: str) -> str:
    """Per-type table of an SRD type: `content_<type with '-' replaced by '_'>`."""
    return "content_" + type_name.replace("-", "_")


_NAME_KEY_RE: Final = re.compile(r"[\W_]+", re.UNICODE)


def name_key(text: str) -> str:
    """What name lookups compare: case-folded, without spaces or punctuation."""
    return _NAME_KEY_RE.sub("", text.casefold())


# --- defensive extraction ------------------------------------------------------

def get_path(data: Any, *path: str | int) -> Any:
    """data[path[0]][path[1]]... or None when any step is missing or of another shape."""
    value = data
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return None
            value = value[step]
        else:
            if not isinstance(value, dict):
                return None
            value = value.get(step)
    return value


def _text(*path: str | int) -> Callable[[dict[str, Any]], object]:
    def extract(data: dict[str, Any]) -> object:
        value = get_path(data, *path)
        return value if isinstance(value, str) else None
    return extract


def _int(*path: str | int) -> Callable[[dict[str, Any]], object]:
    def extract(data: dict[str, Any]) -> object:
        value = get_path(data, *path)
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return extract


def _real(*path: str | int) -> Callable[[dict[str, Any]], object]:
    def extract(data: dict[str, Any]) -> object:
        value = get_path(data, *path)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return None
    return extract


def _bool(*path: str | int) -> Callable[[dict[str, Any]], object]:
    def extract(data: dict[str, Any]) -> object:
        value = get_path(data, *path)
        return int(value) if isinstance(value, bool) else None
    return extract


_CP_PER_UNIT: Final = {"cp": 1, "sp": 10, "ep": 50, "gp": 100, "pp": 1000}


def _cost_cp(data: dict[str, Any]) -> object:
    quantity = get_path(data, "cost", "quantity")
    unit = get_path(data, "cost", "unit")
    if isinstance(quantity, (int, float)) and not isinstance(quantity, bool) \
            and isinstance(unit, str) and unit in _CP_PER_UNIT:
        return round(quantity * _CP_PER_UNIT[unit])
    return None


def _attunement(data: dict[str, Any]) -> object:
    # The 2014 set records attunement only in the first paragraph ("... (requires attunement)").
    first = get_path(data, "desc", 0)
    if not isinstance(first, str):
        first = get_path(data, "desc")
    return int("requires attunement" in first.lower()) if isinstance(first, str) else None


def _first_ac(data: dict[str, Any]) -> object:
    value = get_path(data, "armor_class", 0, "value")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    value = get_path(data, "armor_class")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _has(key: str) -> Callable[[dict[str, Any]], object]:
    def extract(data: dict[str, Any]) -> object:
        value = data.get(key)
        return int(bool(value))
    return extract


def _ref_indexes(key: str) -> Callable[[dict[str, Any]], list[str]]:
    def extract(data: dict[str, Any]) -> list[str]:
        value = data.get(key)
        if not isinstance(value, list):
            return []
        return [v["index"] for v in value
                if isinstance(v, dict) and isinstance(v.get("index"), str)]
    return extract


def _strings(key: str) -> Callable[[dict[str, Any]], list[str]]:
    def extract(data: dict[str, Any]) -> list[str]:
        value = data.get(key)
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
    return extract


def _dict_keys(key: str) -> Callable[[dict[str, Any]], list[str]]:
    def extract(data: dict[str, Any]) -> list[str]:
        value = data.get(key)
        if not isinstance(value, dict):
            return []
        return sorted(k for k, v in value.items() if isinstance(v, str) and v)
    return extract


class FilterColumn(NamedTuple):
    """A scalar column of a per-type table: its SQL type and how to read it from an entry."""

    name: str
    type: SqlType
    extract: Callable[[dict[str, Any]], object]

    def column(self) -> sa.Column[Any]:
        """Its declared column: booleans held as 0/1, text compared case-insensitively."""
        import sqlalchemy as sa

        sql_type: sa.types.TypeEngine[Any] = (
            sa.Text(collation=NOCASE) if self.type == "TEXT"
            else sa.Float() if self.type == "REAL" else sa.Integer())
        return sa.Column(self.name, sql_type)


class MemberField(NamedTuple):
    """A multi-valued filter (e.g. the classes of a spell), kept in the members side table."""

    name: str
    extract: Callable[[dict[str, Any]], list[str]]


C = FilterColumn
M = MemberField

FILTER_COLUMNS: Final[dict[str, tuple[FilterColumn, ...]]] = {
    "spells": (
        C("level", "INTEGER", _int("level")), C("school", "TEXT", _text("school", "index")),
        C("ritual", "BOOLEAN", _bool("ritual")),
        C("concentration", "BOOLEAN", _bool("concentration")),
        C("casting_time", "TEXT", _text("casting_time")), C("range", "TEXT", _text("range")),
        C("duration", "TEXT", _text("duration")), C("attack_type", "TEXT", _text("attack_type")),
        C("damage_type", "TEXT", _text("damage", "damage_type", "index")),
        C("dc_type", "TEXT", _text("dc", "dc_type", "index")),
        C("area_type", "TEXT", _text("area_of_effect", "type")),
    ),
    "monsters": (
        C("type", "TEXT", _text("type")), C("subtype", "TEXT", _text("subtype")),
        C("size", "TEXT", _text("size")), C("alignment", "TEXT", _text("alignment")),
        C("challenge_rating", "REAL", _real("challenge_rating")), C("xp", "INTEGER", _int("xp")),
        C("hit_points", "INTEGER", _int("hit_points")), C("armor_class", "INTEGER", _first_ac),
        C("legendary", "BOOLEAN", _has("legendary_actions")),
    ),
    "equipment": (
        C("equipment_category", "TEXT", _text("equipment_category", "index")),
        C("weapon_category", "TEXT", _text("weapon_category")),
        C("weapon_range", "TEXT", _text("weapon_range")),
        C("armor_category", "TEXT", _text("armor_category")),
        C("gear_category", "TEXT", _text("gear_category", "index")),
        C("tool_category", "TEXT", _text("tool_category")),
        C("vehicle_category", "TEXT", _text("vehicle_category")),
        C("cost_cp", "INTEGER", _cost_cp), C("weight", "REAL", _real("weight")),
    ),
    "magic-items": (
        C("rarity", "TEXT", _text("rarity", "name")),
        C("equipment_category", "TEXT", _text("equipment_category", "index")),
        C("variant", "BOOLEAN", _bool("variant")), C("attunement", "BOOLEAN", _attunement),
    ),
    "features": (
        C("class", "TEXT", _text("class", "index")),
        C("subclass", "TEXT", _text("subclass", "index")),
        C("level", "INTEGER", _int("level")),
    ),
    "levels": (
        C("class", "TEXT", _text("class", "index")),
        C("subclass", "TEXT", _text("subclass", "index")),
        C("level", "INTEGER", _int("level")),
    ),
    "subclasses": (C("class", "TEXT", _text("class", "index")),),
    "classes": (C("hit_die", "INTEGER", _int("hit_die")),),
    "races": (C("size", "TEXT", _text("size")), C("speed", "INTEGER", _int("speed"))),
    "subraces": (C("race", "TEXT", _text("race", "index")),),
    "proficiencies": (C("type", "TEXT", _text("type")),),
    "languages": (C("type", "TEXT", _text("type")), C("script", "TEXT", _text("script"))),
    "skills": (C("ability_score", "TEXT", _text("ability_score", "index")),),
    "alignments": (C("abbreviation", "TEXT", _text("abbreviation")),),
}

MEMBER_FIELDS: Final[dict[str, tuple[MemberField, ...]]] = {
    "spells": (M("classes", _ref_indexes("classes")), M("subclasses", _ref_indexes("subclasses")),
               M("components", _strings("components"))),
    "monsters": (M("condition_immunities", _ref_indexes("condition_immunities")),
                 M("movement", _dict_keys("speed"))),
    "equipment": (M("properties", _ref_indexes("properties")),),
    "traits": (M("races", _ref_indexes("races")), M("subraces", _ref_indexes("subraces"))),
    "proficiencies": (M("classes", _ref_indexes("classes")), M("races", _ref_indexes("races"))),
}

# Columns every per-type table has besides its filters; `name` and `pack` filter too.
COMMON_FILTERS: Final[dict[str, SqlType]] = {"name": "TEXT", "pack": "TEXT"}


def filter_columns(type_name: str) -> dict[str, str]:
    """Filterable fields of a type -> SQL type (`TEXT[]` marks membership fields)."""
    columns: dict[str, str] = dict(COMMON_FILTERS)
    for column in FILTER_COLUMNS.get(type_name, ()):
        columns[column.name] = column.type
    for member in MEMBER_FIELDS.get(type_name, ()):
        columns[member.name] = MEMBER_TYPE
    return columns


def type_table_columns(type_name: str) -> list[sa.Column[Any]]:
    """The columns of a per-type table (the order of `type_row`)."""
    import sqlalchemy as sa

    from ..storage.readmodels import json_text

    return [sa.Column("idx", sa.Text, primary_key=True),
            sa.Column("pack", sa.Text, nullable=False),
            sa.Column("name", sa.Text(collation=NOCASE)),
            *(column.column() for column in FILTER_COLUMNS.get(type_name, ())),
            json_text("data")]


def type_table_indexes(type_name: str) -> tuple[tuple[str, ...], ...]:
    return (("name",), ("pack",)) + tuple(
        (column.name,) for column in FILTER_COLUMNS.get(type_name, ())
    )


def type_row(type_name: str, idx: str, pack: str, name: str | None, data: dict[str, Any],
             data_json: str) -> tuple[object, ...]:
    """The row of a per-type table for one effective entry (column order of the DDL)."""
    values: list[object] = [idx, pack, name]
    values.extend(column.extract(data) for column in FILTER_COLUMNS.get(type_name, ()))
    values.append(data_json)
    return tuple(values)


def member_rows(type_name: str, idx: str, data: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(type, field, value, idx) rows of the members side table for one entry."""
    rows: set[tuple[str, str, str, str]] = set()
    for member in MEMBER_FIELDS.get(type_name, ()):
        for value in member.extract(data):
            rows.add((type_name, member.name, value, idx))
    return sorted(rows)


TYPED_TABLE_TYPES: Final = SRD_TYPES
