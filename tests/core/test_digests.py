"""Digests of read models depend on the rows' values only (storage.digests): not on the
order an engine returns rows in, nor on the Python types its driver hands back."""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from questlog.storage.digests import canonical, column_kind, rows_digest
from questlog.storage.readmodels import declare, digest_rows, integer, json_text, real, text

TABLE = declare(
    "rm_digest_probe",
    text("name", primary_key=True), sa.Column("label", sa.Text(collation="NOCASE")),
    integer("n", null=True), real("share", null=True), json_text("doc", null=True),
    sa.Column("blob", sa.LargeBinary), text("at", null=True),
    digest_order=("label", "n", "name"))

# The same five rows, as SQLite's driver returns them...
SQLITE_ROWS: list[tuple[Any, ...]] = [
    ("a", "apple", 1, 0.5, '{"a":1,"b":[1,2]}', b"\x00", "2026-12-01T05:00:00.000000Z"),
    ("B", "Apple", 2, 3.0, '{"z":null}', b"", None),
    ("c", "banana", None, None, None, None, None),
    ("d", "Zebra", 3, 2.0, '"text"', b"\xff", "x"),
    ("é", "éclair", 0, 0.0, "[1.5,{\"k\":\"é\"}]", b"\x01", None),
]
# ...and as another driver would: booleans for flags, Decimals, ints in REAL columns,
# integral floats in INTEGER columns, parsed JSON in any key order, spaces in JSON
# text, memoryviews, timestamps as aware datetimes.
OTHER_ROWS: list[tuple[Any, ...]] = [
    ("a", "apple", True, Decimal("0.5"), {"b": [1, 2], "a": 1}, memoryview(b"\x00"),
     datetime(2026, 12, 1, 6, 0, tzinfo=timezone(timedelta(hours=1)))),
    ("B", "Apple", 2.0, 3, '{ "z" : null }', bytearray(b""), None),
    ("c", "banana", None, None, None, None, None),
    ("d", "Zebra", Decimal("3"), 2, ' "text" ', b"\xff", "x"),
    ("é", "éclair", False, Decimal("0"), [1.5, {"k": "\u00e9"}], b"\x01", None),
]


def reference(rows: list[tuple[Any, ...]]) -> str:
    """The documented encoding written out by hand for SQLITE_ROWS' value types: rows
    sorted by (label, n, name) with null < numbers < text by code point, then hashed."""
    columns = ["name", "label", "n", "share", "doc", "blob", "at"]

    def key(row: tuple[Any, ...]) -> tuple[Any, ...]:
        def place(v: Any) -> tuple[Any, ...]:
            return (0,) if v is None else (1, v) if isinstance(v, int | float) else (2, v)
        return (place(row[1]), place(row[2]), place(row[0]))

    h = hashlib.sha256(json.dumps(columns).encode())
    for row in sorted(rows, key=key):
        encoded = [{"$f": repr(float(v))} if i == 3 and v is not None else
                   {"$b": v.hex()} if isinstance(v, bytes) else
                   json.dumps(json.loads(v), sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False) if i == 4 and v is not None else v
                   for i, v in enumerate(row)]
        h.update(json.dumps(encoded, ensure_ascii=False, separators=(",", ":")).encode())
        h.update(b"\n")
    return h.hexdigest()


def test_equal_values_give_one_digest_in_any_row_order_and_any_driver_types() -> None:
    expected = reference(SQLITE_ROWS)
    rng = random.Random(12)
    for rows in (SQLITE_ROWS, OTHER_ROWS):
        for _ in range(20):
            shuffled = list(rows)
            rng.shuffle(shuffled)
            assert rows_digest(TABLE, shuffled) == expected


def test_text_orders_by_code_point_never_by_a_collation() -> None:
    # "apple" < "Apple" under NOCASE ties; "Zebra" < "apple" by code point, where a locale
    # or NOCASE would put it last. The digest's order is the code-point one whatever the
    # column's declared collation, so a digest equals the one of the rows pre-sorted so.
    rows = rows_digest(TABLE, SQLITE_ROWS)
    by_code_point = sorted(SQLITE_ROWS, key=lambda r: r[1])
    assert [r[1] for r in by_code_point] == ["Apple", "Zebra", "apple", "banana", "éclair"]
    assert rows == reference(by_code_point)


def test_a_changed_value_changes_the_digest() -> None:
    base = rows_digest(TABLE, SQLITE_ROWS)
    for i, changed in ((2, 4), (3, 0.25), (4, '{"a":2,"b":[1,2]}'), (1, "APPLE"), (5, b"\x02")):
        rows = list(SQLITE_ROWS)
        rows[0] = rows[0][:i] + (changed,) + rows[0][i + 1:]
        assert rows_digest(TABLE, rows) != base, (i, changed)
    # 1 and 1.5 differ in an INTEGER column (SQLite keeps non-integral values there).
    rows = list(SQLITE_ROWS)
    rows[0] = rows[0][:2] + (1.5,) + rows[0][3:]
    assert rows_digest(TABLE, rows) != base


def test_canonical_values_by_column_kind() -> None:
    kinds = {c.name: column_kind(c) for c in TABLE.columns}
    assert kinds == {"name": "text", "label": "text", "n": "integer", "share": "real",
                     "doc": "json", "blob": "bytes", "at": "text"}
    assert canonical(True, "integer") == 1 and canonical(Decimal("7"), "integer") == 7
    assert canonical(7, "real") == 7.0 and isinstance(canonical(7, "real"), float)
    assert canonical(2.5, "integer") == 2.5
    assert canonical('{"b": 1, "a": "é"}', "json") == '{"a":"é","b":1}'
    assert canonical("not json {", "json") == "not json {"
    naive = datetime(2026, 12, 1, 5, 0, 0, 123)
    assert canonical(naive, "text") == "2026-12-01T05:00:00.000123Z"
    assert canonical(naive.replace(tzinfo=UTC), "text") == "2026-12-01T05:00:00.000123Z"
    some = uuid.uuid4()
    assert canonical(some, "text") == str(some)


def test_an_empty_table_and_a_table_without_digest_columns() -> None:
    assert rows_digest(TABLE, []) == digest_rows(
        ["name", "label", "n", "share", "doc", "blob", "at"], [[]])
    bare = declare("rm_digest_bare", text("k", primary_key=True), digest_exclude=("k",))
    assert rows_digest(bare, [("x",)]) == digest_rows([], [])
