"""The single writer queue: one thread, one write connection, group commit.

Producers (any thread; asyncio through a done-callback) enqueue append
requests and write jobs and wait on a completion. The writer drains up to
`writer_batch_size` items, runs them in ONE `BEGIN IMMEDIATE` transaction and
commits once, then resolves every completion — so a call returns only after its
commit is durable at the configured `synchronous` level.

Isolation without paying a savepoint per call: as the only writer holding
SQLite's write lock, it reads every touched stream's version once per batch and
checks expectations, idempotency and encoding in Python before touching SQL, so
a conflicting call simply contributes no rows. A failure that only SQL or a
projector can reveal makes the batch retry call by call, each in its own
savepoint, so one call's failure never fails its neighbours.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import eventstore
from .completion import Completion
from .db import Database, DBAPIConnection
from .errors import (
    Backpressure,
    DuplicateEventId,
    InvalidEvent,
    QuestlogError,
    WriterClosed,
    WrongExpectedVersion,
)
from .events import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    ExpectedVersion,
    NewEvent,
    RecordedEvent,
    canonical_json,
    category_of,
    event_digest,
    utc_now,
    validate_expected_version,
    validate_stream_id,
)

log = logging.getLogger("questlog.writer")


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


def encode_event(event: NewEvent | dict[str, Any]) -> EncodedEvent:
    if not isinstance(event, NewEvent):
        try:
            event = NewEvent.model_validate(event)
        except Exception as exc:  # pydantic's message names the field
            raise InvalidEvent(f"invalid event: {exc}") from None
    try:
        data_json = canonical_json(event.data)
        metadata_json = canonical_json(event.metadata)
    except (TypeError, ValueError) as exc:
        raise InvalidEvent(f"event {event.type!r}: data or metadata is not JSON: {exc}") from None
    return EncodedEvent(
        str(event.event_id), event.type, event.schema_version, event.data, event.metadata,
        data_json, metadata_json, "event_id" in event.model_fields_set,
    )


@dataclass(slots=True)
class AppendCall:
    stream_id: str
    expected: ExpectedVersion
    events: list[EncodedEvent]


def make_call(stream_id: str, events: Sequence[NewEvent | dict[str, Any]],
              expected_version: object) -> AppendCall:
    try:
        validate_stream_id(stream_id)
        expected = validate_expected_version(expected_version)
    except ValueError as exc:
        raise InvalidEvent(str(exc)) from None
    return AppendCall(stream_id, expected, [encode_event(e) for e in events])


@dataclass(slots=True)
class AppendRequest:
    calls: list[AppendCall]
    future: Completion[list[AppendResult]] = field(default_factory=Completion)


@dataclass(slots=True)
class WriteJob:
    fn: Callable[[DBAPIConnection], Any]
    future: Completion[Any] = field(default_factory=Completion)


class WriterHooks(Protocol):
    """What the projection engine plugs into the writer's transaction."""

    def before_batch(self, conn: DBAPIConnection, head_position: int) -> None: ...
    def project(self, conn: DBAPIConnection, events: list[RecordedEvent]) -> None: ...
    def after_batch(self, conn: DBAPIConnection, head_position: int) -> None: ...


class _NoHooks:
    def before_batch(self, conn: DBAPIConnection, head_position: int) -> None:
        pass

    def project(self, conn: DBAPIConnection, events: list[RecordedEvent]) -> None:
        pass

    def after_batch(self, conn: DBAPIConnection, head_position: int) -> None:
        pass


@dataclass(slots=True)
class _BatchState:
    """What the writer knows inside one transaction; copied to undo a failed call."""

    head: int
    head_hash: str
    versions: dict[str, int]
    batch_ids: dict[str, eventstore.StoredEventKey]

    def copy(self) -> _BatchState:
        return _BatchState(self.head, self.head_hash, dict(self.versions), dict(self.batch_ids))


@dataclass(slots=True)
class _Planned:
    request: AppendRequest
    rows: list[tuple[Any, ...]]
    stream_rows: dict[str, tuple[str, str, int, int]]
    recorded: list[RecordedEvent]
    results: list[AppendResult]


_STOP = object()
_ROWS_JSON = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), check_circular=False)


class _RetryIsolated(Exception):
    """Raised inside a batch to redo it call by call, each call in its own savepoint."""


class Writer:
    """The only code that writes to the store's file."""

    def __init__(self, db: Database, hooks: WriterHooks | None = None) -> None:
        self._db = db
        self._settings = db.settings
        self.hooks: WriterHooks = hooks or _NoHooks()
        # SimpleQueue (C) + a semaphore for the bound: cheaper per call than queue.Queue.
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._slots = threading.BoundedSemaphore(self._settings.writer_queue_size)
        self._closed = False
        self._close_lock = threading.Lock()
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="questlog-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._start_error is not None:
            raise self._start_error
        self.commits = 0

    # -- producer side --------------------------------------------------------------------

    def submit(self, item: AppendRequest | WriteJob, timeout: float | None = None) -> None:
        if self._closed:
            raise WriterClosed("the store's writer is closed")
        wait = self._settings.append_timeout_s if timeout is None else timeout
        if not self._slots.acquire(timeout=wait):
            raise Backpressure(
                f"writer queue full ({self._settings.writer_queue_size} waiting) for {wait:.1f}s"
            )
        self._queue.put(item)

    def append(self, calls: list[AppendCall], timeout: float | None = None) -> list[AppendResult]:
        request = AppendRequest(calls)
        self.submit(request, timeout)
        return request.future.result()

    def run(self, fn: Callable[[DBAPIConnection], Any], timeout: float | None = None) -> Any:
        job = WriteJob(fn)
        self.submit(job, timeout)
        return job.future.result()

    def close(self) -> None:
        """Refuse new calls, finish every accepted one, stop the thread."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        while True:  # anything that slipped in after the stop marker
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, (AppendRequest, WriteJob)):
                item.future.set_exception(WriterClosed("the store's writer is closed"))

    # -- writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            conn = self._db.writer_connection()
        except BaseException as exc:
            self._start_error = exc
            self._ready.set()
            return
        self._ready.set()
        batch_size = self._settings.writer_batch_size
        wait_s = self._settings.writer_batch_wait_ms / 1000
        # The connection is closed by Database.dispose(), which owns it.
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            self._slots.release()
            batch: list[AppendRequest | WriteJob] = [item]  # type: ignore[list-item]
            stop = False
            deadline = time.monotonic() + wait_s
            while len(batch) < batch_size:
                try:
                    remaining = deadline - time.monotonic()
                    nxt = (self._queue.get(timeout=remaining) if remaining > 0
                           else self._queue.get_nowait())
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                self._slots.release()
                batch.append(nxt)  # type: ignore[arg-type]
            self._process(conn, batch)
            if stop:
                return

    def _begin(self, conn: DBAPIConnection) -> None:
        deadline = time.monotonic() + self._settings.lock_retry_s
        delay = 0.005
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except Exception as exc:
                text = str(exc).lower()
                if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.1)

    def _process(self, conn: DBAPIConnection, batch: list[AppendRequest | WriteJob]) -> None:
        try:
            try:
                outcomes = self._transaction(conn, batch, isolated=False)
            except _RetryIsolated:
                # Only SQL or a projector could see the fault: redo the batch with every
                # call in its own savepoint, so only the faulty call fails.
                outcomes = self._transaction(conn, batch, isolated=True)
        except BaseException as exc:
            log.exception("writer batch failed; %d call(s) rejected", len(batch))
            err = exc if isinstance(exc, QuestlogError) else QuestlogError(
                f"write failed: {type(exc).__name__}: {exc}")
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(err)
            return
        self.commits += 1
        for future, ok, value in outcomes:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _transaction(self, conn: DBAPIConnection, batch: list[AppendRequest | WriteJob],
                     isolated: bool) -> list[tuple[Completion[Any], bool, Any]]:
        outcomes: list[tuple[Completion[Any], bool, Any]] = []
        self._begin(conn)
        try:
            streams = [c.stream_id for item in batch if isinstance(item, AppendRequest)
                       for c in item.calls]
            head, head_hash, versions = eventstore.head_and_versions(conn, streams)
            state = _BatchState(head, head_hash, versions, {})
            given = [e.event_id for item in batch if isinstance(item, AppendRequest)
                     for c in item.calls for e in c.events if e.id_given]
            existing = eventstore.existing_events(conn, given) if given else {}
            self.hooks.before_batch(conn, state.head)
            recorded_at = utc_now()
            segment: list[AppendRequest] = []
            for item in batch:
                if isinstance(item, AppendRequest):
                    segment.append(item)
                    continue
                if segment:
                    self._run_appends(conn, segment, state, existing, recorded_at, outcomes,
                                      isolated)
                    segment = []
                self._run_job(conn, item, outcomes)
            if segment:
                self._run_appends(conn, segment, state, existing, recorded_at, outcomes,
                                  isolated)
            self.hooks.after_batch(conn, state.head)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return outcomes

    def _run_job(self, conn: DBAPIConnection, job: WriteJob,
                 outcomes: list[tuple[Completion[Any], bool, Any]]) -> None:
        conn.execute("SAVEPOINT job")
        try:
            value = job.fn(conn)
        except Exception as exc:
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            outcomes.append((job.future, False, exc))
            return
        conn.execute("RELEASE job")
        outcomes.append((job.future, True, value))

    def _run_appends(self, conn: DBAPIConnection, requests: list[AppendRequest],
                     state: _BatchState, existing: dict[str, eventstore.StoredEventKey],
                     recorded_at: str, outcomes: list[tuple[Completion[Any], bool, Any]],
                     isolated: bool) -> None:
        if isolated:
            self._run_isolated(conn, requests, state, existing, recorded_at, outcomes)
            return
        planned: list[_Planned] = []
        for request in requests:
            try:
                planned.append(self._plan(request, state, existing, recorded_at))
            except QuestlogError as exc:
                outcomes.append((request.future, False, exc))
        if not planned:
            return
        try:
            self._write(conn, planned)
        except Exception as exc:
            raise _RetryIsolated() from exc
        outcomes.extend((p.request.future, True, p.results) for p in planned)

    def _run_isolated(self, conn: DBAPIConnection, requests: list[AppendRequest],
                      state: _BatchState, existing: dict[str, eventstore.StoredEventKey],
                      recorded_at: str, outcomes: list[tuple[Completion[Any], bool, Any]]) -> None:
        for request in requests:
            before = state.copy()
            try:
                plan = self._plan(request, state, existing, recorded_at)
            except QuestlogError as exc:
                outcomes.append((request.future, False, exc))
                continue
            conn.execute("SAVEPOINT one")
            try:
                self._write(conn, [plan])
            except Exception as exc:
                conn.execute("ROLLBACK TO one")
                conn.execute("RELEASE one")
                state.head, state.head_hash = before.head, before.head_hash
                state.versions, state.batch_ids = before.versions, before.batch_ids
                err = exc if isinstance(exc, QuestlogError) else InvalidEvent(
                    f"append rejected: {type(exc).__name__}: {exc}")
                outcomes.append((request.future, False, err))
                continue
            conn.execute("RELEASE one")
            outcomes.append((request.future, True, plan.results))

    def _write(self, conn: DBAPIConnection, planned: list[_Planned]) -> None:
        rows = [r for p in planned for r in p.rows]
        if rows:
            conn.execute(eventstore.INSERT_EVENTS_JSON_SQL, (_ROWS_JSON.encode(rows),))
            streams: dict[str, tuple[str, str, int, int]] = {}
            for p in planned:
                streams.update(p.stream_rows)
            conn.execute(eventstore.UPSERT_STREAMS_JSON_SQL,
                         (_ROWS_JSON.encode(list(streams.values())),))
            self.hooks.project(conn, [e for p in planned for e in p.recorded])

    def _plan(self, request: AppendRequest, state: _BatchState,
              existing: dict[str, eventstore.StoredEventKey], recorded_at: str) -> _Planned:
        """Check one request against the batch state; on success, advance the state.

        A request is atomic: on any error the state is left as it was.
        """
        head, head_hash = state.head, state.head_hash
        new_versions: dict[str, int] = {}  # overlays: merged into the state on success only
        new_ids: dict[str, eventstore.StoredEventKey] = {}
        rows: list[tuple[Any, ...]] = []
        stream_rows: dict[str, tuple[str, str, int, int]] = {}
        recorded: list[RecordedEvent] = []
        results: list[AppendResult] = []
        for call in request.calls:
            known = []
            seen: set[str] = set()
            for ev in call.events:
                if not ev.id_given:
                    continue
                if ev.event_id in new_ids or ev.event_id in seen:
                    raise DuplicateEventId(f"event id {ev.event_id} appears twice in one append")
                seen.add(ev.event_id)
                stored = existing.get(ev.event_id) or state.batch_ids.get(ev.event_id)
                if stored is not None:
                    if (stored.stream_id, stored.type, stored.data_json) != (
                            call.stream_id, ev.type, ev.data_json):
                        raise DuplicateEventId(
                            f"event id {ev.event_id} is already stored with a different payload "
                            f"(stream {stored.stream_id!r}, type {stored.type!r})")
                    known.append(stored)
            if known:
                if len(known) != len(call.events):
                    raise DuplicateEventId(
                        f"append to {call.stream_id!r} mixes {len(known)} already stored event "
                        f"id(s) with {len(call.events) - len(known)} new one(s)")
                # A retry of a call that was stored: answer what the first call got.
                results.append(AppendResult([k.position for k in known],
                                            max(k.stream_version for k in known)))
                continue
            current = new_versions.get(call.stream_id)
            if current is None:
                current = state.versions.get(call.stream_id, 0)
            expected = call.expected
            if expected == ANY:
                pass
            elif expected == NO_STREAM:
                if current != 0:
                    raise WrongExpectedVersion(call.stream_id, NO_STREAM, current)
            elif expected == STREAM_EXISTS:
                if current == 0:
                    raise WrongExpectedVersion(call.stream_id, STREAM_EXISTS, current)
            elif expected != current:
                raise WrongExpectedVersion(call.stream_id, expected, current)
            positions: list[int] = []
            category = category_of(call.stream_id)
            for ev in call.events:
                current += 1
                head += 1
                head_hash = event_digest(head_hash, head, ev.event_id, call.stream_id, current,
                                         ev.type, ev.schema_version, ev.data_json,
                                         ev.metadata_json, recorded_at)
                rows.append((head, ev.event_id, call.stream_id, current, category, ev.type,
                             ev.schema_version, ev.data_json, ev.metadata_json, recorded_at,
                             head_hash))
                recorded.append(RecordedEvent(head, ev.event_id, call.stream_id, current, category,
                                              ev.type, ev.schema_version, ev.data, ev.metadata,
                                              recorded_at, head_hash))
                if ev.id_given:
                    new_ids[ev.event_id] = eventstore.StoredEventKey(
                        head, call.stream_id, current, ev.type, ev.schema_version, ev.data_json,
                        ev.metadata_json)
                positions.append(head)
            if call.events:
                new_versions[call.stream_id] = current
                stream_rows[call.stream_id] = (call.stream_id, category, current, head)
            results.append(AppendResult(positions, current))
        state.head, state.head_hash = head, head_hash
        state.versions.update(new_versions)
        state.batch_ids.update(new_ids)
        return _Planned(request, rows, stream_rows, recorded, results)
