"""Old import path of the log's recorder functions, now `questlog.sqlite.log`.

Kept while projection, game and test modules still call these with a session
(or a raw connection); it holds no SQL itself. New code uses the log port
(`store.backend.log`, `questlog.storage.log`).
"""

from __future__ import annotations

from .sqlite.log import (
    ENVELOPE_COLUMNS,
    EVENT_COLUMNS,
    INSERT_EVENTS_JSON_SQL,
    LOG,
    ROW_COLUMNS,
    Row,
    damaged_pages,
    decode_row,
)
from .storage.log import StoredEventKey, VerifyReport

head = LOG.head
head_position = LOG.head_position
stream_versions = LOG.stream_versions
existing_events = LOG.existing_events
hashes_at = LOG.hashes_at
read_stream = LOG.read_stream
read_all = LOG.read_all
read_all_rows = LOG.read_all_rows
verify = LOG.verify

__all__ = [
    "ENVELOPE_COLUMNS",
    "EVENT_COLUMNS",
    "INSERT_EVENTS_JSON_SQL",
    "ROW_COLUMNS",
    "Row",
    "StoredEventKey",
    "VerifyReport",
    "damaged_pages",
    "decode_row",
    "existing_events",
    "hashes_at",
    "head",
    "head_position",
    "read_all",
    "read_all_rows",
    "read_stream",
    "stream_versions",
    "verify",
]
