"""Append planning: turn append calls into event rows against known stream versions.

The writer plans every call in Python before it touches SQL: it checks the
expected version, idempotent event ids and encoding against what it knows of
the log (`BatchState`), and only calls that pass contribute rows. A call is
atomic: a failed check leaves the state as it was. `LogTip` is what the writer
remembers of the log between batches, so a batch need not re-read it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import DuplicateEventId, InvalidEvent, WrongExpectedVersion
from .events import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    ExpectedVersion,
    NewEvent,
    RecordedEvent,
    category_of,
    event_digest,
    new_event_id_texts,
    plain_new_event,
    validate_expected_version,
    validate_stream_id,
)
from .fastjson import REFERENCE, canonical_bytes
from .game.event_base import GAME_CATEGORIES
from .jsonlimits import DEFAULT_MAX_JSON_DEPTH, check_depth, encoding_problem
from .storage.log import StoredEventKey


@dataclass(slots=True)
class EncodedEvent:
    """A NewEvent with its JSON encoded once, in the producer's thread."""

    event_id: str
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    data_json: str
    metadata_json: str
    id_given: bool  # only caller-chosen ids can already exist
    # The game's canonical payload, when the append check computed it (RecordedEvent.canonical)
    canonical: dict[str, Any] | None = None


def encode_event(event: NewEvent | dict[str, Any],
                 max_depth: int = DEFAULT_MAX_JSON_DEPTH,
                 ids: Iterator[str] | None = None) -> EncodedEvent:
    """Validate and encode one event, once: a plain dict is checked without pydantic
    when it plainly follows NewEvent's rules (`plain_new_event`, a new id from `ids`
    when given), and its data and metadata are encoded by the fast canonical encoder
    (`fastjson`)."""
    if not isinstance(event, NewEvent):
        plain = plain_new_event(event, ids) if type(event) is dict else None
        if plain is not None:
            type_, data, metadata, event_id, schema_version, id_given = plain
            return EncodedEvent(
                event_id, type_, schema_version, data, metadata,
                _encode(type_, event_id, "data", data, max_depth),
                _encode(type_, event_id, "metadata", metadata, max_depth), id_given)
        try:
            event = NewEvent.model_validate(event)
        except Exception as exc:  # pydantic's message names the field
            raise InvalidEvent(f"invalid event: {exc}") from None
    event_id = str(event.event_id)
    return EncodedEvent(
        event_id, event.type, event.schema_version, event.data, event.metadata,
        _encode(event.type, event_id, "data", event.data, max_depth),
        _encode(event.type, event_id, "metadata", event.metadata, max_depth),
        "event_id" in event.model_fields_set,
    )


def _encode(type_: str, event_id: str, field: str, value: dict[str, Any],
            max_depth: int) -> str:
    """The canonical JSON of an event's data or metadata, within the nesting limit."""
    if not value:
        return "{}"
    out = canonical_bytes(value)
    if out is not None:  # valid UTF-8 by construction, and within orjson's depth limit
        text = out.decode("utf-8")
        if len(text) > 2 * max_depth:  # shorter text cannot nest deeper (the usual case)
            check_depth(type_, event_id, field, value, text, max_depth)
        return text
    try:
        text = REFERENCE.encode(value)
    except RecursionError:  # nested past the encoder's own limit: say how deep
        check_depth(type_, event_id, field, value, None, max_depth)
        raise InvalidEvent(f"event {type_!r}: {field} is nested too deeply") from None
    except (TypeError, ValueError) as exc:
        raise InvalidEvent(f"event {type_!r}: {field} is not JSON: {exc}") from None
    problem = encoding_problem(text)
    if problem is not None:
        raise InvalidEvent(f"event {type_!r}: {field} {problem}")
    if len(text) > 2 * max_depth:
        check_depth(type_, event_id, field, value, text, max_depth)
    return text


@dataclass(slots=True)
class AppendCall:
    stream_id: str
    expected: ExpectedVersion
    events: list[EncodedEvent]
    # Derived in the producer's thread, so the writer does not spend its time on them.
    category: str
    ids_given: bool
    # False for recorded facts (replay): an inline projector that cannot apply them parks
    # instead of failing the call (docs/internals.md, "Poison events").
    validate: bool = True
    # Characters of the events' data and metadata JSON (the append bytes metric).
    size: int = 0


# `game.normalize.check_append`, loaded on the first append to a game stream (the game's
# models stay off other paths) and kept here: an import statement per call costs more
# than the check itself.
_game_check: Callable[[str, str, str, int, Any], dict[str, Any] | None] | None = None


def _load_game_check() -> Callable[[str, str, str, int, Any], dict[str, Any] | None]:
    global _game_check
    from .game.normalize import check_append

    _game_check = check_append
    return check_append


def ids_sent(calls: Iterable[AppendCall]) -> None:
    """After a write whose outcome is unknown (a connection lost while it committed): the
    calls' event ids were sent once, so the redo treats them as caller-chosen, and a call
    that landed is answered with its stored positions (as a caller's retry is), never
    written twice (ids are unique) nor refused."""
    for call in calls:
        call.ids_given = True
        for event in call.events:
            event.id_given = True


def make_call(stream_id: str, events: Sequence[NewEvent | dict[str, Any]],
              expected_version: object, *, validate: bool = True,
              max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> AppendCall:
    """Validate and encode one append call (in the caller's thread).

    With `validate`, known game event types on game streams must be readable by the
    game (InvalidEventPayload otherwise, before anything is queued); `validate=False`
    trusts the events as recorded facts (replay). `max_depth` is the store's
    `max_json_depth` setting: one nesting limit for every way an event comes in (replay
    included).
    """
    try:
        validate_stream_id(stream_id)
        expected = validate_expected_version(expected_version)
    except ValueError as exc:
        raise InvalidEvent(str(exc)) from None
    # The call's new ids with one draw of random bits (see new_event_id_texts).
    ids = new_event_id_texts(len(events)) if len(events) > 1 else None
    encoded = [encode_event(e, max_depth, ids) for e in events]
    category = category_of(stream_id)
    if validate and category in GAME_CATEGORIES:
        check_append = _game_check or _load_game_check()
        for event in encoded:
            # The payload the check read is the one the inline projectors fold: kept.
            event.canonical = check_append(stream_id, category, event.type,
                                           event.schema_version, event.data)
    return AppendCall(stream_id, expected, encoded, category,
                      any(e.id_given for e in encoded), validate,
                      sum(len(e.data_json) + len(e.metadata_json) for e in encoded))


@dataclass(slots=True)
class BatchState:
    """What the writer knows of the log while it plans one batch."""

    head: int
    head_hash: str
    versions: dict[str, int]  # stream id -> current version; absent means "read it"
    batch_ids: dict[str, StoredEventKey]  # caller-chosen ids planned so far

    def copy(self) -> BatchState:
        return BatchState(self.head, self.head_hash, dict(self.versions), dict(self.batch_ids))


@dataclass(slots=True)
class Plan:
    """One request's rows (EVENT_COLUMNS order), recorded events and results."""

    rows: list[tuple[Any, ...]]
    recorded: list[RecordedEvent]
    results: list[AppendResult]
    trusted: bool = False  # every call is a recorded fact (validate=False)


def plan_calls(calls: Sequence[AppendCall], state: BatchState,
               existing: dict[str, StoredEventKey], recorded_at: str,
               *, record: bool | Callable[[str, str], bool] = True) -> Plan:
    """Check one request's calls against the state; on success, advance the state.

    Every stream named by the calls must be in `state.versions` (0 for a new stream).
    `existing` holds the stored events among the calls' caller-chosen ids. Raises
    (leaving the state untouched) on a wrong expected version or a conflicting id.
    `record` says which events get a RecordedEvent (only projectors read them): all
    (True), none (False), or those whose (category, type) it accepts.
    """
    head, head_hash = state.head, state.head_hash
    new_versions: dict[str, int] = {}  # overlays: merged into the state on success only
    new_ids: dict[str, StoredEventKey] = {}
    rows: list[tuple[Any, ...]] = []
    recorded: list[RecordedEvent] = []
    results: list[AppendResult] = []
    for call in calls:
        if call.ids_given:
            known = _stored_retry(call, existing, state.batch_ids, new_ids)
            if known:
                # A retry of a call that was stored: answer what the first call got.
                results.append(AppendResult([k.position for k in known],
                                            max(k.stream_version for k in known)))
                continue
        current = new_versions.get(call.stream_id)
        if current is None:
            current = state.versions[call.stream_id]
        if call.expected != ANY:
            _check_expected(call.stream_id, call.expected, current)
        positions: list[int] = []
        category = call.category
        for ev in call.events:
            current += 1
            head += 1
            head_hash = event_digest(head_hash, head, ev.event_id, call.stream_id, current,
                                     ev.type, ev.schema_version, ev.data_json,
                                     ev.metadata_json, recorded_at)
            rows.append((head, ev.event_id, call.stream_id, current, category, ev.type,
                         ev.schema_version, ev.data_json, ev.metadata_json, recorded_at,
                         head_hash))
            if record is True or record is not False and record(category, ev.type):
                recorded.append(RecordedEvent(head, ev.event_id, call.stream_id, current,
                                              category, ev.type, ev.schema_version, ev.data,
                                              ev.metadata, recorded_at, head_hash,
                                              ev.canonical))
            if ev.id_given:
                new_ids[ev.event_id] = StoredEventKey(
                    head, call.stream_id, current, ev.type, ev.schema_version, ev.data_json,
                    ev.metadata_json)
            positions.append(head)
        if call.events:
            new_versions[call.stream_id] = current
        results.append(AppendResult(positions, current))
    state.head, state.head_hash = head, head_hash
    state.versions.update(new_versions)
    state.batch_ids.update(new_ids)
    return Plan(rows, recorded, results, not any(c.validate for c in calls))


def _stored_retry(call: AppendCall, existing: dict[str, StoredEventKey],
                  batch_ids: dict[str, StoredEventKey],
                  new_ids: dict[str, StoredEventKey]
                  ) -> list[StoredEventKey]:
    """The stored events a call's caller-chosen ids name: all of its events (a retry),
    or none. Raises on a repeated id, a changed payload, or a mix."""
    known = []
    seen: set[str] = set()
    for ev in call.events:
        if not ev.id_given:
            continue
        if ev.event_id in new_ids or ev.event_id in seen:
            raise DuplicateEventId(f"event id {ev.event_id} appears twice in one append")
        seen.add(ev.event_id)
        stored = existing.get(ev.event_id) or batch_ids.get(ev.event_id)
        if stored is not None:
            # The whole event must match: a retry carries the same stream, type, schema
            # version, data and metadata; anything else is another event under a used id.
            if (stored.stream_id, stored.type, stored.schema_version, stored.data_json,
                    stored.metadata_json) != (call.stream_id, ev.type, ev.schema_version,
                                              ev.data_json, ev.metadata_json):
                raise DuplicateEventId(
                    f"event id {ev.event_id} is already stored as a different event "
                    f"(differs in {_differences(stored, call.stream_id, ev)})")
            known.append(stored)
    if known and len(known) != len(call.events):
        raise DuplicateEventId(
            f"append to {call.stream_id!r} mixes {len(known)} already stored event "
            f"id(s) with {len(call.events) - len(known)} new one(s)")
    return known


def _differences(stored: StoredEventKey, stream_id: str, ev: EncodedEvent) -> str:
    """Which parts of a retried event differ from the stored one (for the error)."""
    pairs = (("stream", stored.stream_id, stream_id), ("type", stored.type, ev.type),
             ("schema_version", stored.schema_version, ev.schema_version),
             ("data", stored.data_json, ev.data_json),
             ("metadata", stored.metadata_json, ev.metadata_json))
    return ", ".join(name for name, old, new in pairs if old != new)


def _check_expected(stream_id: str, expected: ExpectedVersion, current: int) -> None:
    """Raise unless `current` satisfies `expected` (callers skip ANY, which always does)."""
    if expected == NO_STREAM:
        if current != 0:
            raise WrongExpectedVersion(stream_id, NO_STREAM, current)
    elif expected == STREAM_EXISTS:
        if current == 0:
            raise WrongExpectedVersion(stream_id, STREAM_EXISTS, current)
    elif expected != current:
        raise WrongExpectedVersion(stream_id, expected, current)


class LogTip:
    """The writer's memory of the log's head and of recent streams' versions.

    Valid only while nobody else writes the file. That needs no check before a
    write: positions are gapless, so any event another process appended occupies
    `head + 1`, and an INSERT planned from a stale tip fails on the primary key
    instead of writing. Whoever sees a write fail calls `forget()`, and the next
    batch reads the log again inside a transaction.
    """

    __slots__ = ("head", "head_hash", "max_streams", "valid", "versions")

    def __init__(self, max_streams: int = 100_000) -> None:
        self.max_streams = max_streams
        self.valid = False
        self.head = 0
        self.head_hash = ""
        self.versions: dict[str, int] = {}

    def forget(self) -> None:
        self.valid = False
        self.versions = {}

    def missing(self, stream_ids: Iterable[str]) -> list[str]:
        """The streams whose versions the tip does not hold."""
        versions = self.versions
        return [s for s in dict.fromkeys(stream_ids) if s not in versions]

    def learn(self, versions: dict[str, int], stream_ids: Iterable[str]) -> None:
        """Record read versions; the named streams that were not found are new (0)."""
        self.versions.update(versions)
        for sid in stream_ids:
            self.versions.setdefault(sid, 0)

    def state(self) -> BatchState:
        """A BatchState sharing the tip's version map: planning advances the tip in place
        (a failed write must call `forget()`)."""
        return BatchState(self.head, self.head_hash, self.versions, {})

    def settle(self, state: BatchState) -> None:
        """After a durable commit planned from `state`: that is the log's tip now."""
        self.head, self.head_hash, self.valid = state.head, state.head_hash, True
        if state.versions is not self.versions:
            self.versions.update(state.versions)
        if len(self.versions) > self.max_streams:
            self.versions = {}  # cheaper than an LRU, and a miss costs only one read
