"""The log on SQLite: the recorder, reader and verifier SQL (`storage.log` ports).

Nothing here opens a transaction: the writer owns write transactions, readers
pass a session already inside a short read transaction. Every value is a bound
parameter. Hot paths run on the raw pysqlite3 connection under the session:
the writer's per-batch lookups and insert are each ONE statement whose answer
is ONE row, because every statement and every row a cursor steps through hands
the GIL to the producer threads and waits to get it back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from ..events import GENESIS_HASH, RecordedEvent
from ..fastjson import loads as decode_json
from ..storage.errors import IntegrityConflict
from ..storage.log import EnvelopeRow, LogRow, StoredEventKey, Tip, VerifyReport
from ..storage.session import Session
from .driver import DBAPIConnection
from .errors import SQLITE_CONSTRAINT, is_corruption, result_code, translate

EVENT_COLUMNS = (
    "position, event_id, stream_id, stream_version, category, type, schema_version, "
    "data, metadata, recorded_at, hash"
)
# The writer inserts a whole batch with ONE statement over a JSON array of rows: one
# sqlite3_step, so one GIL hand-off, where executemany releases and re-takes the GIL per
# row — under many producer threads each re-take waits behind their Python work.
# jsonb_each, not json_each: its `value` is a parsed JSONB row that `->>` reads directly,
# where json_each would render every row back to text for `->>` to parse again.
# The `streams` table follows by trigger (migration 0002), inside the same statement.
INSERT_EVENTS_JSON_SQL = (
    f"INSERT INTO events ({EVENT_COLUMNS}) SELECT value->>0, value->>1, value->>2, value->>3, "
    "value->>4, value->>5, value->>6, value->>7, value->>8, value->>9, value->>10 "
    "FROM jsonb_each(?)"
)
# The rows as one JSON array by orjson (C): the stored data and metadata text go in as
# JSON strings and come out of `->>` as the very same text.
_dumps_rows = orjson.dumps

Row = tuple[Any, ...]


def decode_row(row: Row) -> RecordedEvent:
    """A row of EVENT_COLUMNS as a RecordedEvent."""
    return RecordedEvent(
        position=row[0], event_id=row[1], stream_id=row[2], stream_version=row[3],
        category=row[4], type=row[5], schema_version=row[6],
        data=decode_json(row[7]), metadata=decode_json(row[8]),
        recorded_at=row[9], hash=row[10],
    )


def decode_rows(rows: Iterable[Row]) -> list[RecordedEvent]:
    """Rows of EVENT_COLUMNS as RecordedEvents: `decode_row` inlined (positional fields,
    orjson's decoder), since reads of whole logs run this loop per event."""
    loads, make = decode_json, RecordedEvent
    return [make(r[0], r[1], r[2], r[3], r[4], r[5], r[6], loads(r[7]), loads(r[8]), r[9],
                 r[10]) for r in rows]


_NO_PAYLOAD: dict[str, Any] = {}
ENVELOPE_COLUMNS = ("position, event_id, stream_id, stream_version, category, type, "
                    "schema_version, recorded_at")
# What row-mode projectors get (storage.log.EnvelopeRow): the fields that say where
# and what an event is, nothing that would cost decoding.
ROW_COLUMNS = "position, stream_id, stream_version, category, type, recorded_at"

# Lookups by a list of keys bind it as ONE JSON array (`IN (SELECT value FROM json_each(?))`:
# one SQL text whatever the count, so the statement cache hits) and answer in ONE row built
# with json_group_*: a cursor steps SQLite once per row, every step hands the GIL to other
# threads and waits to get it back, and under many producer threads that wait is what a
# multi-row answer costs the writer.
_EXISTING_EVENTS_SQL = (
    "SELECT json_group_array(json_array(event_id, position, stream_id, stream_version, type, "
    "schema_version, data, metadata)) FROM events "
    "WHERE event_id IN (SELECT value FROM json_each(?))"
)
_STREAM_VERSIONS_SQL = (
    "SELECT json_group_object(stream_id, version) FROM streams "
    "WHERE stream_id IN (SELECT value FROM json_each(?))"
)
_HEAD_AND_VERSIONS_SQL = (
    "SELECT (SELECT json_array(position, hash) FROM events ORDER BY position DESC LIMIT 1), "
    f"({_STREAM_VERSIONS_SQL})"
)
_HASHES_AT_SQL = ("SELECT json_group_object(position, hash) FROM events "
                  "WHERE position IN (SELECT value FROM json_each(?))")
_HEAD_SQL = "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
_HEAD_POSITION_SQL = "SELECT max(position) FROM events"
_VERSION_AT_SQL = ("SELECT max(stream_version) FROM events "
                   "WHERE stream_id = ? AND recorded_at <= ?")


def _conn(session: Session | DBAPIConnection) -> DBAPIConnection:
    """The raw pysqlite3 connection under a SQLiteSession (a raw connection, from callers
    not yet moved to sessions, passes as itself)."""
    return getattr(session, "connection", session)


def _keys(ids: Iterable[str]) -> str:
    return json.dumps(list(dict.fromkeys(ids)))


class SQLiteLog:
    """`storage.log.Log` on SQLite (stateless: one instance serves every store)."""

    # -- reader ------------------------------------------------------------------------

    def head(self, session: Session) -> tuple[int, str]:
        row = _conn(session).execute(_HEAD_SQL).fetchone()
        if row is None:
            return 0, GENESIS_HASH
        return int(row[0]), str(row[1])

    def head_position(self, session: Session) -> int:
        row = _conn(session).execute(_HEAD_POSITION_SQL).fetchone()
        return int(row[0] or 0)

    def stream_versions(self, session: Session, stream_ids: Iterable[str]) -> dict[str, int]:
        """Current version of each named stream that exists, in one row."""
        (versions,) = _conn(session).execute(_STREAM_VERSIONS_SQL,
                                             (_keys(stream_ids),)).fetchone()
        found: dict[str, int] = json.loads(versions)
        return found

    def read_stream(self, session: Session, stream_id: str, *,
                    from_version: int | None = None, backwards: bool = False,
                    limit: int | None = None, to_version: int | None = None,
                    to_position: int | None = None) -> list[RecordedEvent]:
        params: list[Any] = [stream_id]
        where = "stream_id = ?"
        if from_version is not None:
            where += " AND stream_version <= ?" if backwards else " AND stream_version >= ?"
            params.append(from_version)
        if to_version is not None:
            where += " AND stream_version <= ?"
            params.append(to_version)
        if to_position is not None:
            where += " AND position <= ?"
            params.append(to_position)
        order = "DESC" if backwards else "ASC"
        sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} ORDER BY stream_version {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return decode_rows(_conn(session).execute(sql, params))

    def stream_version_at(self, session: Session, stream_id: str, recorded_at: str) -> int:
        row = _conn(session).execute(_VERSION_AT_SQL, (stream_id, recorded_at)).fetchone()
        return int(row[0] or 0)

    def read_all(self, session: Session, *, from_position: int = 0,
                 to_position: int | None = None, backwards: bool = False,
                 limit: int | None = None, types: Sequence[str] | None = None,
                 categories: Sequence[str] | None = None,
                 payload: bool = True) -> list[RecordedEvent]:
        rows = self.read_all_rows(session, from_position=from_position, limit=limit,
                                  types=types, categories=categories, to_position=to_position,
                                  payload=payload, backwards=backwards)
        if payload:
            return decode_rows(rows)
        e = _NO_PAYLOAD  # decoded inline: this loop runs for every event of a rebuild
        return [RecordedEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], e, e, r[7], "")
                for r in rows]

    def read_all_rows(self, session: Session, *, from_position: int = 0,
                      limit: int | None = None, types: Sequence[str] | None = None,
                      categories: Sequence[str] | None = None, to_position: int | None = None,
                      payload: bool = True, columns: str | None = None,
                      backwards: bool = False) -> list[Row]:
        """Raw rows of `columns` (EVENT_COLUMNS, ENVELOPE_COLUMNS or ROW_COLUMNS)."""
        where = ["position >= ?"]
        params: list[Any] = [from_position]
        if to_position is not None:
            where.append("position <= ?")
            params.append(to_position)
        if types:
            where.append(f"type IN ({','.join('?' * len(types))})")
            params.extend(types)
        if categories:
            where.append(f"category IN ({','.join('?' * len(categories))})")
            params.extend(categories)
        columns = columns or (EVENT_COLUMNS if payload else ENVELOPE_COLUMNS)
        order = " DESC" if backwards else ""
        sql = f"SELECT {columns} FROM events WHERE {' AND '.join(where)} ORDER BY position{order}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return list(_conn(session).execute(sql, params))

    def read_envelopes(self, session: Session, *, from_position: int = 0,
                       to_position: int | None = None, limit: int | None = None,
                       types: Sequence[str] | None = None,
                       categories: Sequence[str] | None = None) -> list[EnvelopeRow]:
        return self.read_all_rows(session, from_position=from_position,
                                  to_position=to_position, limit=limit, types=types,
                                  categories=categories, columns=ROW_COLUMNS)

    # -- recorder ----------------------------------------------------------------------

    def tip(self, session: Session, stream_ids: Iterable[str]) -> Tip:
        """The log's head (position, hash) and the named streams' versions, in one row."""
        head, versions = _conn(session).execute(_HEAD_AND_VERSIONS_SQL,
                                                 (_keys(stream_ids),)).fetchone()
        position, digest = json.loads(head) if head is not None else (0, GENESIS_HASH)
        return Tip(int(position), str(digest), json.loads(versions))

    def existing_events(self, session: Session,
                        event_ids: Sequence[str]) -> dict[str, StoredEventKey]:
        (found,) = _conn(session).execute(_EXISTING_EVENTS_SQL,
                                          (json.dumps(list(event_ids)),)).fetchone()
        return {r[0]: StoredEventKey(*r[1:]) for r in json.loads(found)}

    def insert(self, session: Session, rows: Sequence[LogRow]) -> None:
        try:
            _conn(session).execute(INSERT_EVENTS_JSON_SQL,
                                   (_dumps_rows(rows).decode("utf-8"),))
        except Exception as exc:
            if result_code(exc) == SQLITE_CONSTRAINT:
                raise translate(exc) or IntegrityConflict(str(exc)) from exc
            raise

    def insert_after(self, session: Session, rows: Sequence[LogRow], head: tuple[int, str],
                     streams: Mapping[str, int] | None = None) -> tuple[int, str] | None:
        """`insert` in autocommit: the statement takes the write lock as it starts and
        commits as it ends. The head needs no check: another writer's append took the
        first planned position (`head + 1`), so the insert raises IntegrityConflict. It
        never moves a batch past another writer's events (`streams` is not needed)."""
        self.insert(session, rows)
        last = rows[-1]
        return int(last[0]), str(last[10])

    # -- verifier ----------------------------------------------------------------------

    def hashes_at(self, session: Session, positions: Iterable[int]) -> dict[int, str]:
        """The stored hash of each named position that exists, in one row (anchors)."""
        (found,) = _conn(session).execute(
            _HASHES_AT_SQL, (json.dumps(sorted(set(positions))),)).fetchone()
        return {int(p): str(h) for p, h in json.loads(found).items()}

    def verify(self, session: Session, *, batch: int = 20_000,
               max_problems: int = 20) -> VerifyReport:
        """Hash chain, gapless positions, per-stream versions, streams table, integrity."""
        return _verify(_conn(session), batch=batch, max_problems=max_problems)


LOG = SQLiteLog()


def _verify(conn: DBAPIConnection, *, batch: int, max_problems: int) -> VerifyReport:
    from ..storage.audit import LogAudit  # verify's checks: off every read path

    audit = LogAudit(max_problems)
    fault = audit.fault
    while True:
        try:
            rows = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE position > ? ORDER BY position "
                "LIMIT ?", (audit.after, batch),
            ).fetchall()
        except Exception as exc:
            if not is_corruption(exc):
                raise
            fault(audit.after + 1,
                  f"corrupt: the log cannot be read after position {audit.after} ({exc})")
            audit.problems.extend(damaged_pages(conn)[:max_problems])
            return audit.report(str(exc))
        if not rows:
            break
        audit.rows(rows)
    try:
        stored_streams = {sid: (v, lp) for sid, v, lp in conn.execute(
            "SELECT stream_id, version, last_position FROM streams")}
    except Exception as exc:
        if not is_corruption(exc):
            raise
        fault(None, f"corrupt: the streams table cannot be read ({exc})")
        stored_streams = audit.streams_as_logged()
    audit.streams(stored_streams)
    try:
        integrity = ", ".join(str(r[0]) for r in conn.execute("PRAGMA integrity_check"))
    except Exception as exc:
        if not is_corruption(exc):
            raise
        integrity = str(exc)
    if integrity != "ok":
        fault(None, f"SQLite integrity_check: {integrity}")
        for problem in damaged_pages(conn):
            fault(None, problem)
    return audit.report(integrity)


_PAGE_RE = re.compile(r"\bpage (\d+)", re.IGNORECASE)


def damaged_pages(conn: DBAPIConnection) -> list[str]:
    """"corrupt page N" for every page SQLite's checks name, table by table.

    SQLite's integrity_check fails outright (naming no page) when a table scan hits an
    unreadable page, so each table is checked alone: a table whose check fails names
    its root page, one whose check reports names the damaged pages.
    """
    found: list[str] = []
    tables = conn.execute(
        "SELECT name, rootpage FROM sqlite_master WHERE type = 'table' AND rootpage > 0 "
        "ORDER BY rootpage").fetchall()
    for name, root in tables:
        try:
            rows = [str(r[0]) for r in conn.execute(f'PRAGMA integrity_check("{name}")')]
        except Exception as exc:
            if not is_corruption(exc):
                raise
            found.append(f"corrupt page {root}: table {name} (its root page, or a page "
                         f"below it) cannot be read ({exc})")
            continue
        pages = sorted({int(p) for row in rows for p in _PAGE_RE.findall(row)})
        found.extend(f"corrupt page {page}: in table {name}" for page in pages)
    return found
