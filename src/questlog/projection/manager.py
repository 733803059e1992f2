"""The projection engine: inline application in the writer's transaction, async
catch-up, shadow-table rebuilds with a one-transaction swap, status and digests.

Exactly-once rests on one rule: a projector's rows and its checkpoint are
written in the same transaction, and every write of rows first checks that the
checkpoint is still where the batch was read from (compare-and-set). A crash
or a second process can then never apply an event twice or skip one.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .. import eventstore
from ..completion import Completion
from ..db import DBAPIConnection
from ..errors import ProjectionError
from ..events import RecordedEvent, utc_now
from . import digest
from .projector import ProjectionContext, Projector
from .registry import select

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger("questlog.projections")

Progress = Callable[[int, int], None]  # (done, total)
INLINE_GAP_LIMIT = 5000  # events an inline projector may catch up inside an append batch


@dataclass
class Checkpoint:
    name: str
    version: int
    mode: str
    position: int
    state: str
    updated_at: str
    failures: int
    last_error: str | None
    error_position: int | None
    rebuild_version: int | None
    rebuild_position: int | None
    rebuild_suffix: str | None


_CP_COLUMNS = ("name, version, mode, position, state, updated_at, failures, last_error, "
               "error_position, rebuild_version, rebuild_position, rebuild_suffix")


def read_checkpoints(conn: DBAPIConnection) -> dict[str, Checkpoint]:
    return {r[0]: Checkpoint(*r) for r in conn.execute(
        f"SELECT {_CP_COLUMNS} FROM projector_checkpoints")}


def _table_exists(conn: DBAPIConnection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ? AND type = 'table'",
                        (name,)).fetchone() is not None


def _live_tables(p: Projector) -> dict[str, str]:
    return {t.name: t.name for t in p.tables}


def _shadow_tables(p: Projector, suffix: str) -> dict[str, str]:
    return {t.name: f"{t.name}__rb{suffix}" for t in p.tables}


def _pos(item: Any) -> int:
    """Position of an event or of an envelope row."""
    return int(item[0]) if isinstance(item, tuple) else int(item.position)


def _read_items(conn: DBAPIConnection, rows: bool, payload: bool, **where: Any) -> list[Any]:
    """Envelope rows (row mode) or RecordedEvents, in log order."""
    if rows:
        return eventstore.read_all_rows(conn, columns=eventstore.ROW_COLUMNS, **where)
    return eventstore.read_all(conn, payload=payload, **where)


def _wrap_failure(p: Projector, events: Sequence[Any], exc: Exception) -> ProjectionError:
    if isinstance(exc, ProjectionError):
        return exc
    pos = getattr(exc, "position", None) or (_pos(events[0]) if events else None)
    return ProjectionError(
        f"projector {p.name!r} failed on events {_pos(events[0])}..{_pos(events[-1])}: "
        f"{type(exc).__name__}: {exc}" if events else f"projector {p.name!r} failed: {exc}",
        projector=p.name, position=pos)


class InlineHooks:
    """Plugged into the writer: runs live inline projectors inside each append batch."""

    def __init__(self, projectors: Sequence[Projector]) -> None:
        self.projectors = [p for p in projectors if p.mode == "inline"]
        self._live: list[Projector] = []
        self._start_head = 0

    def before_batch(self, conn: DBAPIConnection, head_position: int) -> None:
        if not self.projectors:
            return
        cps = read_checkpoints(conn)
        live = []
        for p in self.projectors:
            cp = cps.get(p.name)
            if cp is None or cp.version != p.version or cp.state == "parked":
                continue
            if cp.position < head_position:
                # Another process appended without this projector (or it was just added):
                # a short gap is closed here, in order; a long one is left to catch-up jobs.
                if head_position - cp.position > INLINE_GAP_LIMIT:
                    continue
                missed = [e for e in eventstore.read_all(conn, from_position=cp.position + 1,
                                                         payload=p.payload) if p.handles(e)]
                if missed:
                    try:
                        p.apply(ProjectionContext(conn, _live_tables(p)), missed)
                    except Exception as exc:
                        raise _wrap_failure(p, missed, exc) from exc
                # Move the checkpoint now, so a catch-up job in this batch cannot re-apply.
                conn.execute("UPDATE projector_checkpoints SET position = ? WHERE name = ?",
                             (head_position, p.name))
            live.append(p)
        # Only a projector at the head, on its current version, takes the batch's events.
        self._live = live
        self._start_head = head_position

    def project(self, conn: DBAPIConnection, events: list[RecordedEvent]) -> None:
        for p in self._live:
            handled = [e for e in events if p.handles(e)]
            if not handled:
                continue
            try:
                p.apply(ProjectionContext(conn, _live_tables(p)), handled)
            except Exception as exc:
                # Point at the first event of the failing call's events for the message.
                raise _wrap_failure(p, handled, exc) from exc

    def after_batch(self, conn: DBAPIConnection, head_position: int) -> None:
        if self._live:
            marks = ",".join("?" * len(self._live))
            conn.execute(
                f"UPDATE projector_checkpoints SET position = ?, updated_at = ? "
                f"WHERE name IN ({marks})",
                [head_position, utc_now(), *[p.name for p in self._live]])
        self._live = []


class ProjectionManager:
    """Status, catch-up, rebuilds, digests and the async daemon for one store."""

    def __init__(self, store: Store, projectors: Sequence[Projector]) -> None:
        self.store = store
        self.projectors = list(projectors)
        self.hooks = InlineHooks(self.projectors)
        self._daemon: threading.Thread | None = None
        self._stop = threading.Event()
        self._backoff_until: dict[str, float] = {}

    # -- registration ----------------------------------------------------------------------

    def register(self) -> list[str]:
        """Create tables and checkpoints of new projectors; returns names needing a rebuild."""

        def job(conn: DBAPIConnection) -> list[str]:
            cps = read_checkpoints(conn)
            now = utc_now()
            stale: list[str] = []
            for p in self.projectors:
                cp = cps.get(p.name)
                if cp is None:
                    for t in p.tables:
                        if not _table_exists(conn, t.name):
                            for sql in t.create_sql(t.name):
                                conn.execute(sql)
                    conn.execute(
                        "INSERT INTO projector_checkpoints (name, version, mode, position, state, "
                        "updated_at) VALUES (?, ?, ?, 0, 'live', ?)", (p.name, p.version, p.mode, now))
                elif cp.version != p.version or any(
                        not _table_exists(conn, t.name) for t in p.tables if t.virtual is None):
                    stale.append(p.name)
                elif cp.mode != p.mode:
                    conn.execute("UPDATE projector_checkpoints SET mode = ? WHERE name = ?",
                                 (p.mode, p.name))
            return stale

        stale: list[str] = self.store.write(job)
        return stale

    def startup(self, progress: Progress | None = None) -> None:
        """On the writer's start: register, rebuild changed projectors (per setting), catch up inline."""
        stale = self.register()
        if stale and self.store.settings.projections_rebuild == "auto":
            log.info("rebuilding projectors whose version changed: %s", ", ".join(stale))
            self.rebuild(stale, progress=progress)
        self.catch_up([p.name for p in self.projectors if p.mode == "inline"
                       and p.name not in stale], progress=progress)

    # -- reading helpers -------------------------------------------------------------------

    def _events_after(self, p: Projector, after: int, limit: int
                      ) -> tuple[list[RecordedEvent], int]:
        """Handled events after `after` (at most `limit`), and the position they cover up to."""
        with self.store.read() as conn:
            head = eventstore.head_position(conn)
            types = sorted(p.event_types) if p.event_types is not None else None
            cats = sorted(p.categories) if p.categories is not None else None
            events = eventstore.read_all(conn, from_position=after + 1, to_position=head,
                                         limit=limit, types=types, categories=cats,
                                         payload=p.payload)
        covered = events[-1].position if len(events) == limit else head
        return [e for e in events if p.handles(e)], covered

    # -- catch-up --------------------------------------------------------------------------

    def catch_up(self, names: list[str] | None = None, progress: Progress | None = None,
                 raise_on_error: bool = True) -> dict[str, int]:
        """Run projectors to the head now, in batches through the writer; returns positions."""
        done: dict[str, int] = {}
        for p in select(self.projectors, names):
            while True:
                moved, position, total = self._step(p, raise_on_error=raise_on_error)
                if progress is not None:
                    progress(position, total)
                if not moved:
                    break
            done[p.name] = position
        return done

    def _step(self, p: Projector, raise_on_error: bool = False) -> tuple[bool, int, int]:
        """One batch of catch-up for `p`: (whether it moved, its position, the head)."""
        with self.store.read() as conn:
            cp = read_checkpoints(conn).get(p.name)
            head = eventstore.head_position(conn)
        if cp is None or cp.state == "parked" or cp.version != p.version:
            return False, cp.position if cp else 0, head
        if cp.position >= head:
            return False, cp.position, head
        batch = self.store.settings.projection_batch_size
        events, covered = self._events_after(p, cp.position, batch)
        try:
            prepared = p.prepare(self.store, events) if events else None
            applied = self.store.write(
                lambda conn: self._apply_batch(conn, p, cp.position, covered, events, prepared))
        except Exception as exc:
            err = _wrap_failure(p, events, exc)
            self._record_failure(p, err, events[0].position if events else covered)
            if raise_on_error:
                raise err from exc
            return False, cp.position, head
        return applied, covered if applied else cp.position, head

    def _apply_batch(self, conn: DBAPIConnection, p: Projector, expected: int, covered: int,
                     events: Sequence[RecordedEvent], prepared: Any) -> bool:
        row = conn.execute("SELECT position, version FROM projector_checkpoints WHERE name = ?",
                           (p.name,)).fetchone()
        if row is None or row[0] != expected or row[1] != p.version:
            return False  # someone else moved it: read again
        if events:
            p.apply(ProjectionContext(conn, _live_tables(p), prepared=prepared), events)
        conn.execute(
            "UPDATE projector_checkpoints SET position = ?, updated_at = ?, failures = 0, "
            "state = CASE WHEN state = 'parked' THEN 'live' ELSE state END WHERE name = ?",
            (covered, utc_now(), p.name))
        return True

    def _record_failure(self, p: Projector, err: ProjectionError, position: int | None) -> None:
        limit = self.store.settings.projection_max_failures

        def job(conn: DBAPIConnection) -> int:
            conn.execute(
                "UPDATE projector_checkpoints SET failures = failures + 1, last_error = ?, "
                "error_position = ?, updated_at = ?, "
                "state = CASE WHEN failures + 1 >= ? THEN 'parked' ELSE state END WHERE name = ?",
                (str(err), position, utc_now(), limit, p.name))
            row = conn.execute("SELECT failures FROM projector_checkpoints WHERE name = ?",
                               (p.name,)).fetchone()
            return int(row[0]) if row else 0

        try:
            failures = self.store.write(job)
        except Exception:  # pragma: no cover - store closing
            return
        self._backoff_until[p.name] = time.monotonic() + min(0.1 * 2 ** failures, 30.0)
        log.warning("projector %s failed (%d in a row): %s", p.name, failures, err)

    def unpark(self, names: list[str]) -> None:
        ps = select(self.projectors, names)

        def job(conn: DBAPIConnection) -> None:
            for p in ps:
                conn.execute("UPDATE projector_checkpoints SET state = 'live', failures = 0 "
                             "WHERE name = ? AND state = 'parked'", (p.name,))
        self.store.write(job)

    # -- async daemon ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the daemon thread that keeps async projectors caught up."""
        if self._daemon is not None and self._daemon.is_alive():
            return
        self._stop.clear()
        self._daemon = threading.Thread(target=self._run_daemon, name="questlog-projections",
                                        daemon=True)
        self._daemon.start()

    def stop(self) -> None:
        self._stop.set()
        if self._daemon is not None:
            self._daemon.join()
            self._daemon = None

    def _run_daemon(self) -> None:
        poll = self.store.settings.projection_poll_s
        while not self._stop.is_set():
            moved = False
            for p in self.projectors:
                if p.mode != "async" or self._stop.is_set():
                    continue
                if time.monotonic() < self._backoff_until.get(p.name, 0.0):
                    continue
                try:
                    step_moved, _, _ = self._step(p)
                    moved |= step_moved
                except Exception:  # the store is closing under us
                    log.debug("projection daemon step failed", exc_info=True)
            if not moved:
                self._stop.wait(poll)

    # -- rebuild ---------------------------------------------------------------------------

    def rebuild(self, names: list[str] | None = None, progress: Progress | None = None) -> None:
        """Rebuild into shadow tables from position 0, then swap them in in one transaction.

        The named projectors are rebuilt in one pass over the log per kind: each batch is
        read once and fed to every projector's shadow tables. Row-mode projectors (no
        payload, `apply_rows`) get raw envelope rows: no event objects are built at all.
        """
        chosen = select(self.projectors, names)
        row_mode = [p for p in chosen if p.row_mode()]
        event_mode = [p for p in chosen if not p.row_mode()]
        for group in (row_mode, event_mode):
            if group:
                self._rebuild_group(group, progress)

    def _rebuild_group(self, chosen: list[Projector], progress: Progress | None) -> None:
        rows = chosen[0].row_mode()
        starts: dict[str, tuple[str, int]] = self.store.write(
            lambda conn: {p.name: self._begin_rebuild(conn, p) for p in chosen})
        payload = any(p.payload for p in chosen)
        batch = self.store.settings.projection_rebuild_batch_size
        positions = {p.name: starts[p.name][1] for p in chosen}
        position = min(positions.values())
        events: list[Any] = []
        pending: Completion[None] | None = None
        while True:
            with self.store.read() as conn:
                head = eventstore.head_position(conn)
                events = _read_items(conn, rows, payload, from_position=position + 1,
                                     to_position=head, limit=batch)
            covered = _pos(events[-1]) if len(events) == batch else head
            if progress is not None:
                progress(position, head)
            if len(events) < batch:
                break  # close to the head: the swap transaction takes the rest
            work = self._rebuild_work(chosen, positions, events)
            expected = dict(positions)

            def step(conn: DBAPIConnection, work: list[tuple[Projector, list[Any], Any]]
                     = work, expected: dict[str, int] = expected, covered: int = covered) -> None:
                for p, handled, prepared in work:
                    self._rebuild_apply(conn, p, starts[p.name][0], expected[p.name], covered,
                                        handled, prepared)

            # Read the next batch while the writer applies this one (one job in flight,
            # so jobs stay in order and each one's compare-and-set holds).
            if pending is not None:
                pending.result()
            pending = self.store.write_later(step)
            positions = {name: covered for name in positions}
            position = covered
        if pending is not None:
            pending.result()
        # The swap applies the tail prepared here, outside any transaction. If events
        # arrived meanwhile it declines (returns None) and the tail is prepared again; only
        # after a few misses under a busy log does it prepare inside the transaction.
        for attempt in range(4):
            tail = self._rebuild_work(chosen, positions, events)
            tail_positions = [_pos(e) for e in events]
            swapped = self.store.write(functools.partial(
                self._swap, chosen=chosen, starts=starts, positions=positions,
                position=position, payload=payload, rows=rows, tail=tail,
                tail_positions=tail_positions, force=attempt == 3))
            if swapped is not None:
                break
            with self.store.read() as conn:
                events = _read_items(conn, rows, payload, from_position=position + 1)
        assert swapped is not None
        if progress is not None:
            progress(swapped, swapped)
        log.info("rebuilt %s to position %d", ", ".join(p.name for p in chosen), swapped)

    def _swap(self, conn: DBAPIConnection, chosen: Sequence[Projector],
              starts: dict[str, tuple[str, int]], positions: dict[str, int], position: int,
              payload: bool, rows: bool, tail: list[tuple[Projector, list[Any], Any]],
              tail_positions: list[int], force: bool) -> int | None:
        """Apply the tail to the shadows and rename them over the live tables, atomically."""
        head = eventstore.head_position(conn)
        rest = _read_items(conn, rows, payload, from_position=position + 1)
        if [_pos(e) for e in rest] == tail_positions:
            work = tail
        elif not force:
            return None
        else:
            work = self._rebuild_work(chosen, positions, rest)
        now = utc_now()
        for p, handled, prepared in work:
            suffix = starts[p.name][0]
            self._rebuild_apply(conn, p, suffix, positions[p.name], head, handled, prepared)
            shadows = _shadow_tables(p, suffix)
            for t in p.tables:
                conn.execute(f"DROP TABLE IF EXISTS {t.name}")
                conn.execute(f"ALTER TABLE {shadows[t.name]} RENAME TO {t.name}")
            conn.execute(
                "UPDATE projector_checkpoints SET version = ?, mode = ?, position = ?, "
                "state = 'live', updated_at = ?, failures = 0, last_error = NULL, "
                "error_position = NULL, rebuild_version = NULL, rebuild_position = NULL, "
                "rebuild_suffix = NULL, rebuild_started_at = NULL WHERE name = ?",
                (p.version, p.mode, head, now, p.name))
            p.on_swap(conn)
        return head

    def _rebuild_work(self, chosen: Sequence[Projector], positions: dict[str, int],
                      events: Sequence[Any]) -> list[tuple[Projector, list[Any], Any]]:
        """Per projector: the events (or rows) it handles past its own position, and
        their prepare() (event mode only)."""
        work = []
        for p in chosen:
            start = positions[p.name]
            rows = p.row_mode()
            if p.event_types is None and p.categories is None and (
                    not events or _pos(events[0]) > start):
                handled = list(events)  # handles everything: skip the per-event filter
            elif rows:
                handled = [r for r in events if r[0] > start and p.handles_row(r)]
            else:
                handled = [e for e in events if e.position > start and p.handles(e)]
            prepared = p.prepare(self.store, handled) if handled and not rows else None
            work.append((p, handled, prepared))
        return work

    def _begin_rebuild(self, conn: DBAPIConnection, p: Projector) -> tuple[str, int]:
        """Create (or resume) the projector's shadow tables; returns (suffix, position)."""
        cp = read_checkpoints(conn).get(p.name)
        if cp is not None and cp.rebuild_suffix and cp.rebuild_version == p.version and all(
                _table_exists(conn, n) or t.virtual is not None
                for t, n in zip(p.tables, _shadow_tables(p, cp.rebuild_suffix).values(),
                                strict=True)):
            return cp.rebuild_suffix, cp.rebuild_position or 0  # resume
        if cp is not None and cp.rebuild_suffix:
            for name in _shadow_tables(p, cp.rebuild_suffix).values():
                conn.execute(f"DROP TABLE IF EXISTS {name}")
        suffix = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
        shadows = _shadow_tables(p, suffix)
        for t in p.tables:
            for sql in t.create_sql(shadows[t.name]):
                conn.execute(sql)
        now = utc_now()
        if cp is None:
            conn.execute(
                "INSERT INTO projector_checkpoints (name, version, mode, position, state, "
                "updated_at) VALUES (?, ?, ?, 0, 'rebuilding', ?)", (p.name, p.version, p.mode, now))
        conn.execute(
            "UPDATE projector_checkpoints SET rebuild_version = ?, rebuild_position = 0, "
            "rebuild_suffix = ?, rebuild_started_at = ?, state = 'rebuilding' WHERE name = ?",
            (p.version, suffix, now, p.name))
        return suffix, 0

    def _rebuild_apply(self, conn: DBAPIConnection, p: Projector, suffix: str, expected: int,
                       covered: int, events: Sequence[Any], prepared: Any) -> None:
        row = conn.execute(
            "SELECT rebuild_suffix, rebuild_position FROM projector_checkpoints WHERE name = ?",
            (p.name,)).fetchone()
        if row is None or row[0] != suffix or row[1] != expected:
            raise ProjectionError(f"rebuild of {p.name!r} was taken over by another process",
                                  projector=p.name)
        if events:
            ctx = ProjectionContext(conn, _shadow_tables(p, suffix), prepared=prepared,
                                    rebuilding=True)
            try:
                if p.row_mode():
                    p.apply_rows(ctx, events)
                else:
                    p.apply(ctx, events)
            except Exception as exc:
                raise _wrap_failure(p, events, exc) from exc
        conn.execute("UPDATE projector_checkpoints SET rebuild_position = ? WHERE name = ?",
                     (covered, p.name))

    # -- status and digests ----------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            cps = read_checkpoints(conn)
            head = eventstore.head_position(conn)
            rows = []
            for p in self.projectors:
                cp = cps.get(p.name)
                position = cp.position if cp else 0
                lag_seconds = 0.0
                if position < head:
                    first = conn.execute(
                        "SELECT recorded_at FROM events WHERE position = ?", (position + 1,)
                    ).fetchone()
                    if first is not None:
                        then = datetime.strptime(first[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                            tzinfo=UTC)
                        lag_seconds = max(0.0, (datetime.now(UTC) - then).total_seconds())
                state = cp.state if cp else "new"
                if cp is not None and cp.version != p.version and state == "live":
                    state = "stale"
                rows.append({
                    "name": p.name, "mode": p.mode, "version": p.version,
                    "stored_version": cp.version if cp else None,
                    "position": position, "head": head, "lag": head - position,
                    "lag_seconds": round(lag_seconds, 3), "state": state,
                    "failures": cp.failures if cp else 0,
                    "last_error": cp.last_error if cp else None,
                    "error_position": cp.error_position if cp else None,
                    "rebuild_position": cp.rebuild_position if cp else None,
                })
        return rows

    def hashes(self, names: list[str] | None = None) -> dict[str, str]:
        """A digest per read model over its rows in canonical order."""
        with self.store.read() as conn:
            return {p.name: digest.projector_digest(conn, p) for p in select(self.projectors, names)}
