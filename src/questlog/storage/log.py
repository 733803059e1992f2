"""The log ports: reading the log, writing planned batches, and verifying it.

Three narrow protocols, as eventsourcing splits its recorders:

- `LogReader`: streams, the global log by position range (forwards or
  backwards, with type/category filters and an upper bound), the head.
- `LogRecorder`: what the writer needs per batch — the tip (head, its hash and
  the batch's stream versions in one lookup), the stored events among
  caller-chosen ids, and the insert of a planned batch of rows.
- `LogVerifier`: the audit — the chain, positions, versions, the engine's own
  integrity check, and stored hashes at given positions (anchors).

Positions, stream versions and hashes are planned by the writer
(`questlog.planner`) before a row reaches a recorder; a backend only stores
them. A backend with several writer processes (PostgreSQL) takes its
transaction-scoped position lock in `WriteTransactions.begin`, so a batch
planned from `LogRecorder.tip` read inside that transaction cannot race.
Every method takes the `Session` it runs in; none opens or ends a transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from ..events import RecordedEvent
from .session import Session

# One planned event row, in this order: position, event_id, stream_id, stream_version,
# category, type, schema_version, data (JSON text), metadata (JSON text), recorded_at, hash.
LogRow = tuple[Any, ...]
# Where and what an event is, without its payload (what row-mode projectors read):
# (position, stream_id, stream_version, category, type, recorded_at).
EnvelopeRow = tuple[int, str, int, str, str, str]


class StoredEventKey(NamedTuple):
    """What the writer needs to recognise a retried event id."""

    position: int
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    data_json: str
    metadata_json: str


class Tip(NamedTuple):
    """The log's head (position, hash) and the asked streams' versions (absent: no stream)."""

    head: int
    head_hash: str
    versions: dict[str, int]


class VerifyReport(NamedTuple):
    ok: bool
    events: int
    streams: int
    first_bad_position: int | None
    problems: list[str]
    integrity: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "events": self.events, "streams": self.streams,
            "first_bad_position": self.first_bad_position, "problems": self.problems,
            "integrity": self.integrity,
        }


class LogReader(Protocol):
    def head(self, session: Session) -> tuple[int, str]:
        """(last position, its hash), or (0, genesis hash) for an empty log."""
        ...

    def head_position(self, session: Session) -> int: ...

    def stream_versions(self, session: Session, stream_ids: Iterable[str]) -> dict[str, int]:
        """The current version of each named stream that exists."""
        ...

    def read_stream(self, session: Session, stream_id: str, *,
                    from_version: int | None = None, backwards: bool = False,
                    limit: int | None = None, to_version: int | None = None,
                    to_position: int | None = None) -> list[RecordedEvent]:
        """The stream's events from `from_version` on (down to it when `backwards`), at
        most up to stream version `to_version` and log position `to_position`."""
        ...

    def stream_version_at(self, session: Session, stream_id: str, recorded_at: str) -> int:
        """The stream's version as of a time (the log's UTC text format; 0: none yet)."""
        ...

    def read_all(self, session: Session, *, from_position: int = 0,
                 to_position: int | None = None, backwards: bool = False,
                 limit: int | None = None, types: Sequence[str] | None = None,
                 categories: Sequence[str] | None = None,
                 payload: bool = True) -> list[RecordedEvent]:
        """Events with from_position <= position <= to_position, in log order (newest
        first when `backwards`); `payload=False` leaves data, metadata and hash empty."""
        ...

    def read_envelopes(self, session: Session, *, from_position: int = 0,
                       to_position: int | None = None, limit: int | None = None,
                       types: Sequence[str] | None = None,
                       categories: Sequence[str] | None = None) -> list[EnvelopeRow]:
        """As `read_all` (forwards), as plain envelope rows (position, stream_id,
        stream_version, category, type, recorded_at): what row-mode projectors get,
        nothing decoded."""
        ...


class LogRecorder(Protocol):
    def tip(self, session: Session, stream_ids: Iterable[str]) -> Tip:
        """The head and the named streams' versions, read together."""
        ...

    def stream_versions(self, session: Session, stream_ids: Iterable[str]) -> dict[str, int]: ...

    def existing_events(self, session: Session,
                        event_ids: Sequence[str]) -> dict[str, StoredEventKey]:
        """The stored events among `event_ids`, by id."""
        ...

    def insert(self, session: Session, rows: Sequence[LogRow]) -> None:
        """Store planned rows (and keep the per-stream versions in step) in one statement
        where the engine can. A position or (stream, version) already taken raises
        `IntegrityConflict` and writes nothing."""
        ...

    def insert_after(self, session: Session, rows: Sequence[LogRow], head: tuple[int, str],
                     streams: Mapping[str, int] | None = None) -> tuple[int, str] | None:
        """The writer's single statement (`WriteTransactions.single_statement_commits`):
        store rows planned after `head` (position, hash) in ONE statement that commits on
        its own, outside any transaction, holding the log's write lock as a transaction
        would. Returns the head after it (last position, its hash).

        As planned when the head is still `head`. When it is not, a backend may write the
        rows after the events other writers appended meanwhile, provided every stream in
        `streams` (the batch's streams and the versions it was planned against; None:
        never) is still at that version: positions then move by one offset and the hash
        chain is recomputed from the real head (PostgreSQL). Otherwise None, or
        `IntegrityConflict` (a position another writer took): nothing was written.
        `StorageUnavailable` when the connection was lost on the way: the statement may
        have committed, so a redo must recognise the batch's event ids (`planner.ids_sent`)."""
        ...


class LogVerifier(Protocol):
    def verify(self, session: Session) -> VerifyReport:
        """Hash chain, gapless positions, stream versions, the engine's integrity check."""
        ...

    def hashes_at(self, session: Session, positions: Iterable[int]) -> dict[int, str]:
        """The stored hash of each named position that exists."""
        ...


class Log(LogReader, LogRecorder, LogVerifier, Protocol):
    """All three, as one backend object implements them."""
