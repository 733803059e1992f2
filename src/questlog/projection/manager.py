"""The projection engine's front: registration, async catch-up and its daemon, status,
digests; inline application lives in inline.py, rebuilds in rebuild.py.

Exactly-once rests on one rule: a projector's rows and its checkpoint are
written in the same transaction, and every write of rows first checks that the
checkpoint is still where the batch was read from (compare-and-set). A crash
or a second process can then never apply an event twice or skip one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .. import eventstore
from ..db import DBAPIConnection
from ..errors import ProjectionError
from ..events import NewEvent, RecordedEvent, utc_now
from . import digest, poison
from .checkpoints import (
    Progress,
    live_tables,
    read_checkpoints,
    table_exists,
    wrap_failure,
)
from .inline import InlineHooks
from .projector import ProjectionContext, Projector
from .rebuild import Rebuilder
from .registry import select

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger("questlog.projections")



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
                        if not table_exists(conn, t.name):
                            for sql in t.create_sql(t.name):
                                conn.execute(sql)
                    conn.execute(
                        "INSERT INTO projector_checkpoints (name, version, mode, position, state, "
                        "updated_at) VALUES (?, ?, ?, 0, 'live', ?)", (p.name, p.version, p.mode, now))
                elif cp.version != p.version or any(
                        not table_exists(conn, t.name) for t in p.tables if t.virtual is None):
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
        """Run projectors to the head now, in batches through the writer; returns positions.

        A projector that cannot apply an event parks just before it and the others go
        on (see `parked()`); `raise_on_error` raises other failures (of `prepare`).
        """
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
            busy = cp is not None and cp.version == p.version and cp.position < head
            skipped = poison.skipped_positions(conn, p.name) if busy else frozenset()
        if cp is None or cp.version != p.version:
            return False, cp.position if cp else 0, head
        # A parked projector goes on only once its poison event is recorded as skipped.
        if cp.state == "parked" and cp.error_position not in skipped:
            return False, cp.position, head
        if cp.position >= head:
            return False, cp.position, head
        batch = self.store.settings.projection_batch_size
        events, covered = self._events_after(p, cp.position, batch)
        events = poison.without_skipped(events, skipped)
        try:
            prepared = p.prepare(self.store, events) if events else None
            applied = self.store.write(
                lambda conn: self._apply_batch(conn, p, cp.position, covered, events, prepared))
        except Exception as exc:
            err = wrap_failure(p, events, exc)
            self._record_failure(p, err, events[0].position if events else covered)
            if raise_on_error:
                raise err from exc
            return False, cp.position, head
        if isinstance(applied, poison.Poison):
            log.warning("%s; the projector is parked", applied.describe())
            return False, applied.position - 1, head
        return applied, covered if applied else cp.position, head

    def _apply_batch(self, conn: DBAPIConnection, p: Projector, expected: int, covered: int,
                     events: Sequence[RecordedEvent], prepared: Any) -> bool | poison.Poison:
        row = conn.execute("SELECT position, version FROM projector_checkpoints WHERE name = ?",
                           (p.name,)).fetchone()
        if row is None or row[0] != expected or row[1] != p.version:
            return False  # someone else moved it: read again
        found = poison.apply_isolating(
            conn, p, ProjectionContext(conn, live_tables(p), prepared=prepared), events)
        if found is not None:
            poison.park(conn, found)
            return found
        # Moving on from a parked state (a skip) clears the error it was parked with.
        conn.execute(
            "UPDATE projector_checkpoints SET position = ?, updated_at = ?, failures = 0, "
            "last_error = CASE WHEN state = 'parked' THEN NULL ELSE last_error END, "
            "error_position = CASE WHEN state = 'parked' THEN NULL ELSE error_position END, "
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
        """Rebuild into shadow tables from position 0, then swap them in in one transaction."""
        Rebuilder(self.store).rebuild(select(self.projectors, names), progress)

    # -- status and digests ----------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            cps = read_checkpoints(conn)
            head = eventstore.head_position(conn)
            rows = []
            for p in self.projectors:
                cp = cps.get(p.name)
                position = cp.position if cp else 0
                if cp is not None and cp.state == "live" and cp.version == p.version:
                    position = self.hooks.implied_position(position, head)  # lazy inline
                lag_seconds = 0.0
                if position < head:
                    first = conn.execute(
                        "SELECT recorded_at FROM events WHERE position = ?", (position + 1,)
                    ).fetchone()
                    if first is not None:
                        then = datetime.strptime(first[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                            tzinfo=UTC)
                        lag_seconds = max(0.0, (datetime.now(UTC) - then).total_seconds())
                error_type = None
                if cp is not None and cp.error_position is not None:
                    found = conn.execute("SELECT type FROM events WHERE position = ?",
                                         (cp.error_position,)).fetchone()
                    error_type = found[0] if found else None
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
                    "error_type": error_type,
                    "rebuild_position": cp.rebuild_position if cp else None,
                })
        return rows

    def parked(self, names: list[str] | None = None) -> list[dict[str, Any]]:
        """Status rows of the parked projectors among `names` (default: all)."""
        chosen = {p.name for p in select(self.projectors, names)}
        return [r for r in self.status() if r["state"] == "parked" and r["name"] in chosen]

    def raise_if_parked(self, names: list[str] | None = None) -> None:
        """Raise ProjectorsParked (exit code 3) naming each parked projector and position."""
        parked = self.parked(names)
        if parked:
            raise poison.ProjectorsParked(parked)

    def skip(self, name: str, position: int, reason: str | None = None) -> dict[str, Any]:
        """Record that projector `name` steps over the event at `position`, then catch it up.

        The decision is an event (`ProjectorEventSkipped` on `projector-<name>`), so a
        replay of this log makes it too. Returns the projector's status row afterwards.
        """
        (p,) = select(self.projectors, [name])
        with self.store.read() as conn:
            cp = read_checkpoints(conn).get(p.name)
            found = eventstore.read_all(conn, from_position=position, to_position=position)
            skipped = poison.skipped_positions(conn, p.name)
        if not found:
            raise ProjectionError(f"no event at position {position}", projector=p.name,
                                  position=position)
        event = found[0]
        if not p.handles(event):
            raise ProjectionError(
                f"projector {p.name!r} does not handle the event at position {position} "
                f"({event.type} on {event.stream_id}): nothing to skip",
                projector=p.name, position=position)
        if cp is not None and cp.position >= position and cp.version == p.version:
            raise ProjectionError(
                f"projector {p.name!r} has already applied position {position} "
                f"(it is at {cp.position})", projector=p.name, position=position)
        if position in skipped:
            raise ProjectionError(f"projector {p.name!r} already skips position {position}",
                                  projector=p.name, position=position)
        data: dict[str, Any] = {"projector": p.name, "position": position,
                                "event_id": event.event_id, "event_type": event.type}
        if reason:
            data["reason"] = reason
        self.store.append(poison.skip_stream(p.name),
                          [NewEvent(type=poison.SKIP_EVENT_TYPE, data=data)])
        self.catch_up([p.name], raise_on_error=False)
        (row,) = [r for r in self.status() if r["name"] == p.name]
        return row

    def hashes(self, names: list[str] | None = None) -> dict[str, str]:
        """A digest per read model over its rows in canonical order."""
        with self.store.read() as conn:
            return {p.name: digest.projector_digest(conn, p) for p in select(self.projectors, names)}
