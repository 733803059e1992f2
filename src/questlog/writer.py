"""The single writer queue: one thread, one write connection, group commit.

Producers (any thread; asyncio through a done-callback) enqueue append
requests and write jobs and wait on a completion. The writer drains up to
`writer_batch_size` items, writes them in ONE SQLite transaction and commits
once, then resolves every completion, so a call returns only after its commit
is durable at the configured `synchronous` level.

Isolation without paying a savepoint per call: as the only writer, it knows
every touched stream's version and checks expectations, idempotency and
encoding in Python (`planner`) before touching SQL, so a conflicting call
simply contributes no rows. A failure that only SQL or a projector can reveal
makes the batch retry call by call, each in its own savepoint, so one call's
failure never fails its neighbours.

Two ways to write a batch:

- the transaction: begin (SQLite: `BEGIN IMMEDIATE`), run appends, write
  jobs and inline projectors, commit. Used for any batch with a write job,
  whenever an inline projector handles one of the batch's events (or its
  checkpoints are due to move: `WriterHooks.concerns`), and whenever the writer's memory
  of the log (`LogTip`) is not known to be current; only then, or with write
  jobs, does it read the head and the batch's stream versions first.
- the single statement: a batch of appends no inline projector handles is ONE
  autocommit insert (SQLite: `INSERT ... FROM jsonb_each(?)`), planned from the
  `LogTip`, on a backend whose single statements commit on their own
  (`WriteTransactions.single_statement_commits`: on SQLite a write statement in
  autocommit takes the write lock when it starts, as `BEGIN IMMEDIATE` would,
  and commits when it ends). It matters because every statement hands the GIL
  to the producer threads and waits to get it back, and under 32 producers that wait, not SQLite, is
  what a batch costs. Should anyone else have written the file, the planned
  first position is taken, the INSERT fails writing nothing, and the batch is
  redone as a transaction.

A batch planned from the tip that writes no row has nothing to prove the tip
current, so it reads the head before its refusals stand or its checkpoints move.

This module is engine-neutral: it drives the backend's log recorder
(`storage.log.LogRecorder`) and the writer connection's transactions
(`storage.transactions.WriteTransactions`); their SQL lives in the engine package.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .completion import Completion, resolve_all
from .errors import Backpressure, InvalidEvent, QuestlogError, StorageError, WriterClosed
from .events import AppendResult, ExpectedVersion, RecordedEvent, utc_now
from .observability.batches import WriterStats
from .observability.operation import observe_append
from .planner import AppendCall, BatchState, LogTip, Plan, ids_sent, make_call, plan_calls
from .storage.errors import IntegrityConflict, StorageBusy, StorageUnavailable
from .storage.log import StoredEventKey
from .storage.session import Session
from .storage.transactions import WriteTransactions

if TYPE_CHECKING:
    from .storage.backend import Backend

log = logging.getLogger("questlog.writer")


@dataclass(slots=True)
class AppendRequest:
    calls: list[AppendCall]
    future: Completion[list[AppendResult]] = field(default_factory=Completion)


@dataclass(slots=True)
class WriteJob:
    fn: Callable[[Session], Any]
    future: Completion[Any] = field(default_factory=Completion)


class WriterHooks(Protocol):
    """What the projection engine plugs into the writer's transaction."""

    @property
    def active(self) -> bool:
        """True when batches must run in a transaction for these hooks."""
        ...

    def concerns(self, events: Iterable[tuple[str, str]]) -> bool:
        """True when a batch of these (category, type) events needs the transaction."""
        ...

    def passed_over(self, head_before: int, head_after: int) -> None:
        """Told of a batch written without the transaction (the hooks did not run)."""
        ...

    def records(self, category: str, type_: str) -> bool:
        """True when `project` may need events of this category and type: only they are
        built as RecordedEvents in a transactional batch."""
        ...

    def before_batch(self, session: Session, head_position: int) -> None: ...
    def project(self, session: Session, events: list[RecordedEvent],
                trusted: bool = False) -> None: ...
    def after_batch(self, session: Session, head_position: int) -> None: ...


class _NoHooks:
    active = False

    def concerns(self, events: Iterable[tuple[str, str]]) -> bool:
        return False

    def records(self, category: str, type_: str) -> bool:
        return False

    def passed_over(self, head_before: int, head_after: int) -> None:
        pass

    def before_batch(self, session: Session, head_position: int) -> None:
        pass

    def project(self, session: Session, events: list[RecordedEvent],
                trusted: bool = False) -> None:
        pass

    def after_batch(self, session: Session, head_position: int) -> None:
        pass


_STOP = object()
# Where the backend asks for it (`WriteTransactions.gather_callers`, or
# `gather_after_transactions` after a batch written as a transaction), how long the writer
# waits for the callers its last batch woke: this share of the last batch's time, at most
# GATHER_MAX_S.
GATHER_SHARE = 0.5
GATHER_MAX_S = 0.002


class _RetryIsolated(Exception):
    """Raised inside a batch to redo it call by call, each call in its own savepoint."""


class _StaleTip(Exception):
    """Raised inside a batch planned from the tip when the log had moved: redo it reading
    the log."""


class Writer:
    """The only code that writes to the store."""

    def __init__(self, backend: Backend, hooks: WriterHooks | None = None, *,
                 on_commit: Callable[[int | None], None] | None = None) -> None:
        self._backend = backend
        self._log = backend.log
        self._settings = backend.settings
        self.hooks: WriterHooks = hooks or _NoHooks()
        # Told the head (None when unknown) after each batch's commit and its callers'
        # wake-up: the anchorer's trigger. It must return at once (see anchors.Anchorer).
        self._on_commit = on_commit
        # SimpleQueue (C) with its size checked before a put: far cheaper per call than
        # queue.Queue or a semaphore (both Python code that every producer and the
        # writer would run under the GIL). Producers racing past the check can exceed
        # the bound by at most their own number.
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.stats = WriterStats()  # /metrics reads it (observability.batches)
        self._bound = self._settings.writer_queue_size
        self._closed = False
        self._close_lock = threading.Lock()
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._tip = LogTip()  # touched by the writer thread only
        self._tx: WriteTransactions | None = None  # the writer thread's connection
        # After another process was seen writing, the next batches go straight to a
        # transaction (doubling each time, halving per success) rather than each paying
        # for a single statement that is likely to find its position taken.
        self._transactions_ahead = 0
        self._backoff = 0
        self._thread = threading.Thread(target=self._run, name="questlog-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._start_error is not None:
            raise self._start_error
        self.commits = 0
        self.single_statement_batches = 0
        # Batches planned for a single statement that found the log moved (another writer)
        # or the statement refused, and were redone as a transaction.
        self.single_statement_fallbacks = 0
        # Batches a backend wrote in one statement after other writers' events (positions
        # moved, the chain recomputed from the real head: PostgreSQL).
        self.single_statement_rebases = 0

    # -- producer side --------------------------------------------------------------------

    def submit(self, item: AppendRequest | WriteJob, timeout: float | None = None) -> None:
        if self._closed:
            raise WriterClosed("the store's writer is closed")
        if self._queue.qsize() >= self._bound:
            try:
                self._wait_for_room(self._settings.append_timeout_s if timeout is None else timeout)
            except (Backpressure, WriterClosed) as exc:
                if timeout != 0:  # 0 is a probe (store.aio tries one before waiting)
                    self.stats.refused(item, exc)
                raise
        self._queue.put(item)

    def queue_depth(self) -> int:
        """Calls and jobs waiting (approximate, as every queue size read by another thread)."""
        return self._queue.qsize()

    def _wait_for_room(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        pause = 0.0005
        while self._queue.qsize() >= self._bound:
            if self._closed:
                raise WriterClosed("the store's writer is closed")
            if time.monotonic() >= deadline:
                raise Backpressure(f"writer queue full ({self._bound} waiting) for {wait:.1f}s")
            time.sleep(pause)
            pause = min(pause * 2, 0.01)

    def append(self, calls: list[AppendCall], timeout: float | None = None) -> list[AppendResult]:
        request = AppendRequest(calls)
        self.submit(request, timeout)
        return request.future.result()

    def append_events(self, calls: Sequence[tuple[str, Sequence[Any], ExpectedVersion]], *,
                      validate: bool = True, timeout: float | None = None,
                      ) -> list[AppendResult]:
        """`Store.append`/`append_many`: check and encode each call's events, queue them as
        one atomic request and wait, timed as the `append` operation. Everything a
        producer does between its wake-up and its next wait is here, with no import and
        no work a fast call does not need (see observability.operation.observe_append)."""
        settings = self._settings

        def work() -> list[AppendResult]:
            depth = settings.max_json_depth
            return self.append([make_call(stream_id, events, expected, validate=validate,
                                          max_depth=depth)
                                for stream_id, events, expected in calls], timeout)

        return observe_append(settings.slow_ms, calls, work)

    def run(self, fn: Callable[[Session], Any], timeout: float | None = None) -> Any:
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
            tx = self._tx = self._backend.open_writer()
        except BaseException as exc:
            self._start_error = exc
            self._ready.set()
            return
        self._ready.set()
        batch_size = self._settings.writer_batch_size
        wait_s = self._settings.writer_batch_wait_ms / 1000
        gather = tx.gather_callers
        gather_after_tx = tx.gather_after_transactions
        woken = 0        # callers the last batch woke: most come back with their next call
        last_tx = False  # whether the last batch was written as a transaction
        last_s = 0.0     # how long the last batch took, commit included
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                batch: list[AppendRequest | WriteJob] = [item]  # type: ignore[list-item]
                stop = False
                start = time.monotonic()
                deadline = start + wait_s
                # On a backend whose commit is a round trip and a flush, or after a batch
                # written as a transaction (projectors' work per batch), wait a little (a
                # share of the last batch's time) for the callers the last batch woke,
                # rather than commit the first few back and make the rest wait a commit.
                gather_until = (max(deadline, start + min(last_s * GATHER_SHARE, GATHER_MAX_S))
                                if (gather or (gather_after_tx and last_tx)) and woken > 1
                                else deadline)
                while len(batch) < batch_size:
                    try:
                        until = gather_until if len(batch) < woken else deadline
                        remaining = until - time.monotonic()
                        nxt = (self._queue.get(timeout=remaining) if remaining > 0
                               else self._queue.get_nowait())
                    except queue.Empty:
                        break
                    if nxt is _STOP:
                        stop = True
                        break
                    batch.append(nxt)  # type: ignore[arg-type]
                started = time.perf_counter()
                single = self.single_statement_batches
                self._process(tx, batch)
                last_s = time.perf_counter() - started
                last_tx = self.single_statement_batches == single
                woken = len(batch)
                if stop:
                    return
        finally:
            tx.close()

    def _begin(self, tx: WriteTransactions) -> None:
        """Begin, waiting past the busy timeout up to `lock_retry_s` while another
        process holds the write lock (StorageBusy: decided by the engine's error code)."""
        deadline = time.monotonic() + self._settings.lock_retry_s
        delay = 0.005
        while True:
            try:
                tx.begin()
                return
            except StorageBusy:
                if time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.1)

    def _process(self, tx: WriteTransactions, batch: list[AppendRequest | WriteJob]) -> None:
        started = time.perf_counter()
        try:
            tx.prepare()
            outcomes = self._single_statement(tx, batch)
            if outcomes is None:
                outcomes = self._transactions(tx, batch)
        except BaseException as exc:
            self._tip.forget()
            log.exception("writer batch failed; %d call(s) rejected", len(batch))
            err = tx.storage_fault(exc) or (
                exc if isinstance(exc, QuestlogError) else QuestlogError(
                    f"write failed: {type(exc).__name__}: {exc}"))
            self.stats.batch_done(batch, None, started, self._settings.slow_ms, err)
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(err)
            return
        self.commits += 1
        self.stats.batch_done(batch, outcomes, started, self._settings.slow_ms)
        resolve_all(outcomes)
        if self._on_commit is not None:
            self._on_commit(self._tip.head if self._tip.valid else None)

    def _single_statement(self, tx: WriteTransactions, batch: list[AppendRequest | WriteJob]
                          ) -> list[tuple[Completion[Any], bool, Any]] | None:
        """Write a batch of appends as one autocommit insert planned from the tip.

        Returns None, having written nothing, when the batch needs a transaction.
        """
        tip = self._tip
        if not tip.valid or not tx.single_statement_commits:
            return None
        if self._transactions_ahead:
            self._transactions_ahead -= 1
            return None
        requests: list[AppendRequest] = []
        for item in batch:
            if not isinstance(item, AppendRequest):
                return None
            requests.append(item)
        session = tx.session
        calls = [c for r in requests for c in r.calls]
        hooks = self.hooks
        if hooks.active and hooks.concerns((c.category, e.type) for c in calls
                                           for e in c.events):
            return None  # an inline projector handles one of these events
        # Read outside a transaction: a stale answer makes the insert fail.
        streams = [c.stream_id for c in calls]
        self._learn_missing(session, streams)
        given = [e.event_id for c in calls for e in c.events if e.id_given]
        existing = self._log.existing_events(session, given) if given else {}
        state = tip.state()
        head_before, hash_before = state.head, state.head_hash
        # The versions every call is judged against (before planning moves them): a
        # backend may write the batch after other writers' events only while these hold.
        # Not with caller-chosen ids: a retried call answers stored positions, which must
        # not move with the batch.
        versions = tip.versions
        base = None if given else {s: versions[s] for s in streams}
        recorded_at = utc_now()
        outcomes: list[tuple[Completion[Any], bool, Any]] = []
        rows: list[tuple[Any, ...]] = []
        for request in requests:
            try:
                plan = plan_calls(request.calls, state, existing, recorded_at, record=False)
            except QuestlogError as exc:
                outcomes.append((request.future, False, exc))
                continue
            rows.extend(plan.rows)
            outcomes.append((request.future, True, plan.results))
        shift = 0
        if rows:
            # Its success also confirms every refusal above: the log had not moved, or
            # none of the batch's streams had.
            try:
                landed = self._log.insert_after(session, rows, (head_before, hash_before),
                                                base)
            except StorageUnavailable as exc:
                # The connection was lost: the statement may have committed. The redo, a
                # transaction on a new connection, waits for the log's lock (so for any
                # statement still in flight) and answers a call that landed with its
                # stored events; one that did not is written then.
                log.warning("connection lost during a single-statement batch (%s); redone "
                            "as a transaction that recognises its event ids", exc)
                ids_sent(calls)
                landed = None
            except Exception as exc:
                # A row broke a constraint (SQLite: someone else took the first position),
                # or the server refused the statement: nothing was written.
                log.debug("single-statement batch failed (%s); using a transaction", exc)
                landed = None
            if landed is None:
                # Someone else wrote: plan again inside a transaction, reading the log.
                tip.forget()
                self._saw_other_writer()
                self.single_statement_fallbacks += 1
                tx.rollback()
                return None
            shift = landed[0] - state.head
            if shift:
                # Written after other writers' events: every new position moved by
                # `shift`. Only the batch's streams are known now (others may have moved).
                outcomes = [(future, ok, [AppendResult([p + shift for p in r.positions],
                                                       r.stream_version) for r in value]
                             if ok else value) for future, ok, value in outcomes]
                known = {s: versions[s] for s in streams}
                tip.forget()
                state = BatchState(landed[0], landed[1], known, {})
                self.single_statement_rebases += 1
        elif not all(ok for _, ok, _ in outcomes) and not self._tip_is_current(session):
            # Calls were refused against versions another process has since moved on.
            tip.forget()
            self._saw_other_writer()
            self.single_statement_fallbacks += 1
            return None
        tip.settle(state)
        if hooks.active and not shift:
            hooks.passed_over(head_before, state.head)  # their checkpoints advance lazily
        self.single_statement_batches += 1
        self._backoff //= 2
        return outcomes

    def _learn_missing(self, session: Session, stream_ids: list[str]) -> None:
        """Read the versions of the streams the tip does not hold yet."""
        missing = self._tip.missing(stream_ids)
        if missing:
            self._tip.learn(self._log.stream_versions(session, missing), missing)

    def _saw_other_writer(self) -> None:
        self._backoff = min(max(1, self._backoff * 2), 1024)
        self._transactions_ahead = self._backoff

    def _transactions(self, tx: WriteTransactions, batch: list[AppendRequest | WriteJob]
                      ) -> list[tuple[Completion[Any], bool, Any]]:
        """The batch as a transaction; redone with the log read if the tip was stale, and
        call by call, each in a savepoint, if only SQL or a projector could see a fault."""
        try:
            try:
                return self._transaction(tx, batch, isolated=False)
            except _StaleTip:
                return self._transaction(tx, batch, isolated=False)  # the tip is forgotten
        except _RetryIsolated:
            return self._transaction(tx, batch, isolated=True)

    def _tip_is_current(self, session: Session) -> bool:
        return self._log.head(session) == (self._tip.head, self._tip.head_hash)

    def _transaction(self, tx: WriteTransactions, batch: list[AppendRequest | WriteJob],
                     isolated: bool) -> list[tuple[Completion[Any], bool, Any]]:
        outcomes: list[tuple[Completion[Any], bool, Any]] = []
        tip = self._tip
        session = tx.session
        self._begin(tx)
        used_tip = False
        try:
            streams = list(dict.fromkeys(
                c.stream_id for item in batch if isinstance(item, AppendRequest)
                for c in item.calls))
            if (tip.valid and not isolated and not self._backoff
                    and all(isinstance(item, AppendRequest) for item in batch)):
                used_tip = True
                # Planned from the tip like a single statement (a stale tip makes the
                # insert fail, and the retry below reads the log): one statement less.
                self._learn_missing(session, streams)
                state = BatchState(tip.head, tip.head_hash,
                                   {s: tip.versions[s] for s in streams}, {})
            else:
                read = self._log.tip(session, streams)
                if not (tip.valid and (tip.head, tip.head_hash) == (read.head, read.head_hash)):
                    if tip.valid:
                        self._saw_other_writer()
                    tip.forget()  # someone else wrote: what the tip remembers may be stale
                state = BatchState(read.head, read.head_hash,
                                   {s: read.versions.get(s, 0) for s in streams}, {})
            given = [e.event_id for item in batch if isinstance(item, AppendRequest)
                     for c in item.calls for e in c.events if e.id_given]
            existing = self._log.existing_events(session, given) if given else {}
            self.hooks.before_batch(session, state.head)
            recorded_at = utc_now()
            segment: list[AppendRequest] = []
            has_jobs = False
            for item in batch:
                if isinstance(item, AppendRequest):
                    segment.append(item)
                    continue
                if segment:
                    self._run_appends(session, segment, state, existing, recorded_at, outcomes,
                                      isolated)
                    segment = []
                has_jobs = True
                self._run_job(session, item, outcomes)
            if segment:
                self._run_appends(session, segment, state, existing, recorded_at, outcomes,
                                  isolated)
            if used_tip and state.head == tip.head and not self._tip_is_current(session):
                # Nothing was written to prove the tip current, and the refusals above and
                # the checkpoints below must not rest on a head another process has passed.
                raise _StaleTip()
            self.hooks.after_batch(session, state.head)
            tx.commit()
        except BaseException as exc:
            tip.forget()
            tx.rollback()
            if used_tip and isinstance(exc, _RetryIsolated):
                raise _StaleTip() from exc  # most likely the tip: read the log, then see
            raise
        if has_jobs:
            tip.forget()  # a job may have written anything, events included
        else:
            tip.settle(state)
        return outcomes

    def _run_job(self, session: Session, job: WriteJob,
                 outcomes: list[tuple[Completion[Any], bool, Any]]) -> None:
        try:
            with session.savepoint("job"):
                value = job.fn(session)
        except Exception as exc:
            if not session.in_transaction:
                raise  # the engine ended the whole transaction: the batch fails
            outcomes.append((job.future, False, exc))
            return
        outcomes.append((job.future, True, value))

    def _run_appends(self, session: Session, requests: list[AppendRequest],
                     state: BatchState, existing: dict[str, StoredEventKey],
                     recorded_at: str, outcomes: list[tuple[Completion[Any], bool, Any]],
                     isolated: bool) -> None:
        if isolated:
            self._run_isolated(session, requests, state, existing, recorded_at, outcomes)
            return
        planned: list[tuple[AppendRequest, Plan]] = []
        for request in requests:
            try:
                planned.append((request, plan_calls(request.calls, state, existing,
                                                    recorded_at, record=self.hooks.records)))
            except QuestlogError as exc:
                outcomes.append((request.future, False, exc))
        if not planned:
            return
        try:
            self._write(session, [p for _, p in planned])
        except Exception as exc:
            raise _RetryIsolated() from exc
        outcomes.extend((request.future, True, p.results) for request, p in planned)

    def _run_isolated(self, session: Session, requests: list[AppendRequest],
                      state: BatchState, existing: dict[str, StoredEventKey],
                      recorded_at: str, outcomes: list[tuple[Completion[Any], bool, Any]]) -> None:
        fault = self._storage_fault
        for request in requests:
            before = state.copy()
            try:
                plan = plan_calls(request.calls, state, existing, recorded_at,
                                  record=self.hooks.records)
            except QuestlogError as exc:
                outcomes.append((request.future, False, exc))
                continue
            try:
                with session.savepoint("one"):
                    self._write(session, [plan])
            except Exception as exc:
                if not session.in_transaction:
                    raise  # the engine ended the whole transaction: the batch fails
                state.head, state.head_hash = before.head, before.head_hash
                state.versions, state.batch_ids = before.versions, before.batch_ids
                # A full disk or a failing device is the server's fault, not the call's;
                # a refused row (a constraint) is the call's.
                err = fault(exc) or (
                    exc if isinstance(exc, QuestlogError)
                    and not isinstance(exc, IntegrityConflict) else InvalidEvent(
                        f"append rejected: {type(exc).__name__}: {exc}"))
                outcomes.append((request.future, False, err))
                continue
            outcomes.append((request.future, True, plan.results))

    def _storage_fault(self, exc: BaseException) -> StorageError | None:
        tx = self._tx
        return tx.storage_fault(exc) if tx is not None else None

    def _write(self, session: Session, plans: list[Plan]) -> None:
        rows = [r for p in plans for r in p.rows]
        if rows:
            self._log.insert(session, rows)
            # Recorded facts (every plan trusted) park a failing projector instead of
            # failing the call; a mixed batch that fails is redone call by call.
            self.hooks.project(session, [e for p in plans for e in p.recorded],
                               trusted=all(p.trusted for p in plans))
