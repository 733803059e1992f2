"""One exception tree: everything questlog raises on purpose is a QuestlogError.

The CLI turns these into one line on stderr and a non-zero exit; the HTTP API
maps them to status codes. Messages name what was wrong.
"""

from __future__ import annotations

from typing import Any


def one_line(text: object, limit: int = 500) -> str:
    """A message folded to one bounded line (a driver message may span lines)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


class QuestlogError(Exception):
    """Base of every error questlog raises on purpose."""

    exit_code: int = 1


class ConfigurationError(QuestlogError):
    """A setting, driver or environment problem that stops the store from opening."""


class UnsafeSQLiteVersion(ConfigurationError):
    """The linked SQLite has the WAL-reset corruption bug and writing was not overridden."""


class StoreNotInitialized(QuestlogError):
    """The file has no questlog schema (run `questlog init`)."""


class SchemaOutOfDate(QuestlogError):
    """The store's schema revision is behind the code's (run `questlog migrate`)."""


class NotAStore(StoreNotInitialized):
    """The file is not a questlog store: not SQLite at all, or a SQLite database holding
    other tables (which `init` leaves alone unless forced)."""

    exit_code = 2


class StoreUnavailable(ConfigurationError):
    """The store's path cannot be opened: a missing directory, a directory, no permission."""


class WrongExpectedVersion(QuestlogError):
    """An append's expected version did not match the stream's actual version."""

    def __init__(self, stream_id: str, expected: Any, actual: int) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"wrong expected version for stream {stream_id!r}: expected {expected}, actual {actual}"
        )


class StreamNotFound(QuestlogError):
    """A stream that was asked for by name has no events (reading it; appending creates it).
    HTTP answers 404 `stream_not_found`, the CLI exit 1."""


class DuplicateEventId(QuestlogError):
    """An event id is already stored with a different payload or in another call."""


class InvalidEvent(QuestlogError):
    """An event or append call is malformed (bad stream id, type, data, ...)."""


class InvalidEventPayload(InvalidEvent):
    """The data of an event of a known type does not fit that type (e.g. a game event
    appended through the generic `append` without a required field). Nothing was written;
    the message names the event, the field and what was expected. HTTP answers 422."""


class NestingTooDeep(InvalidEvent):
    """An event's data or metadata is nested deeper than `QUESTLOG_MAX_JSON_DEPTH`."""

    def __init__(self, event_type: str, event_id: str, field: str, depth: int,
                 limit: int) -> None:
        self.event_type = event_type
        self.event_id = event_id
        self.field = field
        self.depth = depth
        self.limit = limit
        super().__init__(
            f"event {event_type!r} ({event_id}): {field} is nested {depth} levels deep; "
            f"the limit is {limit} (QUESTLOG_MAX_JSON_DEPTH)")


class Backpressure(QuestlogError):
    """The writer queue stayed full for longer than the caller's timeout."""


class WriterClosed(QuestlogError):
    """The writer queue is closed and accepts no more calls."""


class ReadOnlyStore(QuestlogError):
    """A write was attempted on a store opened read-only."""


class ReadOnlyReplica(ReadOnlyStore):
    """A write was attempted on a read node serving a replica."""


class ProjectionError(QuestlogError):
    """A projector failed on an event, or a projection command was invalid."""

    def __init__(self, message: str, *, projector: str | None = None,
                 position: int | None = None) -> None:
        self.projector = projector
        self.position = position
        super().__init__(message)


class ProjectorCannotRun(ProjectionError):
    """A projector cannot run in this process's configuration (its search index holds
    another embedding model's vectors, say). No event is at fault: the projector waits,
    retried with backoff, and is never parked for it (a skip would drop a valid event);
    the reason shows in `projections status` until the configuration is put right."""


class PoisonEvent(ProjectionError):
    """A recorded event that tolerant reading cannot use: its payload stays unreadable
    after upcasting and normalisation (a required id missing and not derivable, a value of
    the wrong kind), or it names something its stream never had. The one error a fold or a
    projector raises for a bad recorded event (never KeyError/ValidationError), so the
    engine can park that projector. `position` is None for an event not yet recorded."""

    def __init__(self, message: str, *, event_type: str, stream_id: str | None = None,
                 position: int | None = None, projector: str | None = None) -> None:
        self.event_type = event_type
        self.stream_id = stream_id
        super().__init__(message, projector=projector, position=position)


class UnknownProjector(ProjectionError):
    """A projector name that no registered projector has."""


class DigestMismatch(QuestlogError):
    """Projection digests differ from the expected ones."""


class VerificationFailed(QuestlogError):
    """`verify` found a fault in the log; `position` is the first bad one."""

    def __init__(self, message: str, position: int | None = None) -> None:
        self.position = position
        super().__init__(message)


class ContentError(QuestlogError):
    """Base of content pack errors."""


class ContentValidationError(ContentError):
    """One or more entries of a pack failed validation; `problems` lists them all."""

    def __init__(self, problems: list[Any], message: str | None = None) -> None:
        self.problems = problems
        super().__init__(message or f"{len(problems)} problem(s) in content pack")


class ContentPackNotFound(ContentError):
    """The named pack, directory or file does not exist."""


class UnsafeContentPack(ContentError):
    """A pack directory holds a link that leads outside it; nothing of the pack is read."""


class ContentNotFound(ContentError):
    """No effective entry for a (type, index)."""


class UnknownContentType(ContentError):
    """A content type or filter field that does not exist."""


class UnknownFilterField(UnknownContentType):
    """A filter or sort field the content type does not have (the message lists the known
    ones). An UnknownContentType for callers that catch that; HTTP answers 422, since the
    type itself exists."""


class VectorSearchUnavailable(QuestlogError):
    """Search was asked for but the index or the model is not available."""


class SearchIndexNotBuilt(VectorSearchUnavailable):
    """The embedding index has not been built yet."""


class DomainError(QuestlogError):
    """A game command was rejected by the rules; nothing was appended."""


class ReplicationError(QuestlogError):
    """Litestream is missing, failed, or the replica is unreachable or empty."""


class StorageError(QuestlogError):
    """The database file could not be written or read (disk full, I/O error, corruption).

    A fault of the server, never of the caller; `retryable` says whether the same call may
    succeed later without anyone repairing the file (space freed, device back).
    """

    retryable: bool = False


class StorageFull(StorageError):
    """SQLITE_FULL: the disk (or the database's size limit) is full."""

    retryable = True


class StorageIOError(StorageError):
    """SQLITE_IOERR (and CANTOPEN, PROTOCOL): the operating system failed a read or write."""

    retryable = True


class StorageCorrupt(StorageError):
    """SQLITE_CORRUPT or SQLITE_NOTADB: the file is damaged; retrying will not help."""


# Exit codes of their own (the CLI's EXIT_CODES table lists them from here).
class ProjectorsParked(ProjectionError):
    """Work finished for every other projector, but these are parked on poison events."""

    exit_code = 3  # the rest of the work is done

    def __init__(self, parked: list[dict[str, Any]]) -> None:
        self.parked = parked
        names = "; ".join(
            f"{r['name']} at position {r['error_position']}"
            + (f" ({r['error_type']})" if r.get("error_type") else "") for r in parked)
        super().__init__(
            f"{len(parked)} projector(s) parked on an event they cannot apply: {names} "
            "(see `questlog projections status`; `projections skip NAME POSITION` steps over it)",
            projector=parked[0]["name"] if parked else None,
            position=parked[0]["error_position"] if parked else None)


class LogCheckFailed(QuestlogError):
    """`replay --check` found problems in the log (exit code 4)."""

    exit_code = 4
