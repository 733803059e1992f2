"""PostgreSQL's side of the schema: the statements of each migration, and the probes.

The migrations in `questlog.migrations` are shared by both engines (one revision
history, one `alembic_version` table, `questlog migrate` for both): each revision
runs SQLite's statements on SQLite and `STATEMENTS[revision]` from here on
PostgreSQL. Positions and stream versions are BIGINT (SQLite's INTEGER is 64-bit).
Event data and metadata stay TEXT: the hash chain covers their exact bytes, which
`jsonb` would not keep.
"""

from __future__ import annotations

from ..storage.session import Session
from .driver import PGConnection

# pg_advisory_xact_lock keys (any bigint; advisory locks are per database). The log's
# is held by every writer transaction from its BEGIN to its COMMIT, so positions are
# assigned one transaction at a time and become visible in order (PostgreSQL makes a
# commit visible before it releases the transaction's locks).
LOG_LOCK_KEY = 0x71756573746C6F67  # "questlog"
SCHEMA_LOCK_KEY = LOG_LOCK_KEY + 1   # migrations: two processes opening a new store

# The channel a commit notifies with the new head (subscriptions wake on it).
LOG_CHANNEL = "questlog_log"

_REVISION_0001 = [
    """CREATE TABLE events (
        position BIGINT PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        stream_id TEXT NOT NULL,
        stream_version BIGINT NOT NULL CHECK (stream_version >= 1),
        category TEXT NOT NULL,
        type TEXT NOT NULL,
        schema_version INTEGER NOT NULL DEFAULT 1,
        data TEXT NOT NULL,
        metadata TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        hash TEXT NOT NULL,
        UNIQUE (stream_id, stream_version)
    )""",
    "CREATE INDEX ix_events_type ON events (type, position)",
    "CREATE INDEX ix_events_category ON events (category, position)",
    # The log is append-only; these make an accidental UPDATE/DELETE/TRUNCATE fail loudly.
    """CREATE FUNCTION questlog_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'events are append-only'; END $$""",
    """CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
       FOR EACH ROW EXECUTE FUNCTION questlog_events_append_only()""",
    """CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
       FOR EACH STATEMENT EXECUTE FUNCTION questlog_events_append_only()""",
    """CREATE TABLE streams (
        stream_id TEXT PRIMARY KEY,
        category TEXT NOT NULL,
        version BIGINT NOT NULL,
        last_position BIGINT NOT NULL
    )""",
    "CREATE INDEX ix_streams_category ON streams (category)",
    """CREATE TABLE projector_checkpoints (
        name TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        mode TEXT NOT NULL,
        position BIGINT NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'live',
        updated_at TEXT NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        error_position BIGINT,
        rebuild_version INTEGER,
        rebuild_position BIGINT,
        rebuild_suffix TEXT,
        rebuild_started_at TEXT
    )""",
    """CREATE TABLE snapshots (
        stream_id TEXT NOT NULL,
        aggregate TEXT NOT NULL,
        aggregate_version INTEGER NOT NULL,
        stream_version BIGINT NOT NULL,
        position BIGINT NOT NULL,
        state TEXT NOT NULL,
        taken_at TEXT NOT NULL,
        PRIMARY KEY (stream_id, aggregate, aggregate_version)
    )""",
    """CREATE TABLE embedding_cache (
        model_id TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        dim INTEGER NOT NULL,
        vector BYTEA NOT NULL,
        PRIMARY KEY (model_id, text_hash)
    )""",
]

# Revision 0002: `streams` follows the log by trigger, inside the inserting statement.
# One statement-level trigger over the inserted rows (a transition table), not one per
# row: a batch of a thousand events moves each of its streams once. It also notifies
# the new head on LOG_CHANNEL (delivered at commit; subscriptions wake on it).
_REVISION_0002 = [
    f"""CREATE FUNCTION questlog_track_streams() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         INSERT INTO streams (stream_id, category, version, last_position)
         SELECT stream_id, min(category), max(stream_version), max(position)
         FROM inserted GROUP BY stream_id
         ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version,
                                               last_position = excluded.last_position;
         PERFORM pg_notify('{LOG_CHANNEL}', (SELECT max(position) FROM inserted)::text);
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER events_track_stream AFTER INSERT ON events
       REFERENCING NEW TABLE AS inserted
       FOR EACH STATEMENT EXECUTE FUNCTION questlog_track_streams()""",
]

# Revision 0003: the writer's one-round-trip batch (see `transactions` and `log`). One
# statement, sent in autocommit, that takes the log's transaction-scoped lock, reads the
# head AFTER the lock is granted (a VOLATILE function's statements each take a fresh
# snapshot in READ COMMITTED: the previous holder's commit, visible before its lock was
# released, is seen), and inserts the planned rows:
# - as planned, when the head is still the (position, hash) they were planned after;
# - else, when `base_streams` is given, the head is past the planned one and every named
#   stream is still at its `base_versions` (the versions the batch was planned against,
#   0 for none: so every expected-version decision stands), after the events other
#   writers appended meanwhile: positions moved by the same offset and the hash chain
#   recomputed from the real head, exactly as `questlog.events.event_digest` does;
# - else not at all: both results NULL, nothing written.
# Returns the head after the insert (last position, its hash). The lock is held to the
# statement's own commit, as a writer transaction holds it.
_APPEND_AFTER_ARGS = ("bigint, text, text[], bigint[], bigint[], text[], text[], bigint[], "
                      "text[], text[], integer[], text[], text[], text[], text[]")
_REVISION_0003 = [
    f"""CREATE FUNCTION questlog_append_after(
           after_position bigint, after_hash text, base_streams text[], base_versions bigint[],
           positions bigint[], event_ids text[], stream_ids text[], stream_versions bigint[],
           categories text[], types text[], schema_versions integer[], datas text[],
           metadatas text[], recorded_ats text[], hashes text[],
           OUT last_position bigint, OUT last_hash text)
       LANGUAGE plpgsql VOLATILE AS $$
       DECLARE
         head_position bigint;
         head_hash text;
         shift bigint;
         prev text;
       BEGIN
         PERFORM pg_advisory_xact_lock({LOG_LOCK_KEY});
         SELECT e.position, e.hash INTO head_position, head_hash
           FROM events e ORDER BY e.position DESC LIMIT 1;
         IF NOT FOUND THEN
           head_position := 0;
           head_hash := after_hash;
         END IF;
         IF head_position <> after_position OR head_hash <> after_hash THEN
           IF base_streams IS NULL OR head_position < after_position
              OR (head_position = after_position AND head_hash <> after_hash)
              OR EXISTS (SELECT 1 FROM unnest(base_streams, base_versions) AS b(sid, version)
                         LEFT JOIN streams s ON s.stream_id = b.sid
                         WHERE coalesce(s.version, 0) <> b.version) THEN
             RETURN;
           END IF;
           shift := head_position - after_position;
           prev := head_hash;
           FOR i IN 1 .. cardinality(positions) LOOP
             positions[i] := positions[i] + shift;
             prev := encode(sha256(convert_to(prev || concat_ws(chr(10),
                       positions[i], event_ids[i], stream_ids[i], stream_versions[i], types[i],
                       schema_versions[i], datas[i], metadatas[i], recorded_ats[i]), 'UTF8')),
                       'hex');
             hashes[i] := prev;
           END LOOP;
         END IF;
         INSERT INTO events (position, event_id, stream_id, stream_version, category, type,
                             schema_version, data, metadata, recorded_at, hash)
         SELECT * FROM unnest(positions, event_ids, stream_ids, stream_versions, categories,
                              types, schema_versions, datas, metadatas, recorded_ats, hashes);
         last_position := positions[cardinality(positions)];
         last_hash := hashes[cardinality(hashes)];
       END $$""",
]

STATEMENTS: dict[str, list[str]] = {"0001": _REVISION_0001, "0002": _REVISION_0002,
                                     "0003": _REVISION_0003}
DOWNGRADES: dict[str, list[str]] = {
    "0001": ["DROP TABLE IF EXISTS embedding_cache", "DROP TABLE IF EXISTS snapshots",
             "DROP TABLE IF EXISTS projector_checkpoints", "DROP TABLE IF EXISTS streams",
             "DROP TABLE IF EXISTS events",
             "DROP FUNCTION IF EXISTS questlog_events_append_only()"],
    "0002": ["DROP TRIGGER IF EXISTS events_track_stream ON events",
             "DROP FUNCTION IF EXISTS questlog_track_streams()"],
    "0003": [f"DROP FUNCTION IF EXISTS questlog_append_after({_APPEND_AFTER_ARGS})"],
}

_TABLES_SQL = ("SELECT tablename FROM pg_catalog.pg_tables "
               "WHERE schemaname = current_schema()")
_TABLE_EXISTS_SQL = ("SELECT 1 FROM pg_catalog.pg_tables "
                     "WHERE schemaname = current_schema() AND tablename = %s")


def table_names(conn: Session | PGConnection) -> set[str]:
    """Every table of the store's schema (the one catalogue probe of this backend)."""
    return {str(r[0]) for r in conn.execute(_TABLES_SQL)}


def table_exists(session: Session | PGConnection, name: str) -> bool:
    return session.execute(_TABLE_EXISTS_SQL, (name,)).fetchone() is not None


def current_revision(conn: Session | PGConnection) -> str | None:
    """The store's Alembic revision, or None for a database without questlog's schema."""
    if not table_exists(conn, "alembic_version"):
        return None
    rev = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if rev is None else str(rev[0])


def holds_foreign_tables(conn: Session | PGConnection) -> bool:
    """True for a database with tables but without questlog's schema."""
    tables = table_names(conn)
    return bool(tables) and "alembic_version" not in tables


def lock_schema(conn: PGConnection) -> None:
    """Serialise schema changes between processes (inside the migration's transaction)."""
    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK_KEY})")
