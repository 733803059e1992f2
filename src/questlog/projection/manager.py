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

from ..errors import ProjectionError, ProjectorCannotRun
from ..events import NewEvent, RecordedEvent, utc_now
from ..observability.operation import Operation
from ..storage.readmodels import options_of
from ..storage.session import Session
from . import digest, poison
from .checkpoints import Progress, live_tables, wrap_failure
from .inline import InlineHooks
from .projector import ProjectionContext, Projector
from .rebuild import Rebuilder
from .registry import select

if TYPE_CHECKING:
    from ..storage.leases import Leases
    from ..storage.signals import CommitSignal
    from .host import ProjectionHost

log = logging.getLogger("questlog.projections")



class ProjectionManager:
    """Status, catch-up, rebuilds, digests and the async daemon for one store."""

    def __init__(self, store: ProjectionHost, projectors: Sequence[Projector]) -> None:
        self.store = store
        self.projectors = list(projectors)
        self.log = store.log
        self.checkpoints = store.checkpoints
        self.readmodels = store.readmodels
        self.hooks = InlineHooks(self.projectors, self.log, self.checkpoints, self.readmodels)
        self._daemon: threading.Thread | None = None
        self._stop = threading.Event()
        self._backoff_until: dict[str, float] = {}
        self._signal: CommitSignal | None = None

    # -- registration ----------------------------------------------------------------------

    def register(self) -> list[str]:
        """Create tables and checkpoints of new projectors; returns names needing a rebuild."""

        def job(session: Session) -> list[str]:
            cps = self.checkpoints.read(session)
            now = utc_now()
            stale: list[str] = []
            for p in self.projectors:
                cp = cps.get(p.name)
                if cp is None:
                    for t in p.tables:
                        if not self.readmodels.exists(session, t.name):
                            self.readmodels.create(session, t)
                    self.checkpoints.insert(session, p.name, p.version, p.mode, "live", now)
                elif cp.version != p.version or any(
                        not self.readmodels.exists(session, t.name) for t in p.tables
                        if options_of(t).virtual is None):
                    stale.append(p.name)
                elif cp.mode != p.mode:
                    self.checkpoints.update(session, [p.name], {"mode": p.mode})
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
            head = self.log.head_position(conn)
            types = sorted(p.event_types) if p.event_types is not None else None
            cats = sorted(p.categories) if p.categories is not None else None
            events = self.log.read_all(conn, from_position=after + 1, to_position=head,
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
            cp = self.checkpoints.read(conn).get(p.name)
            head = self.log.head_position(conn)
            busy = cp is not None and cp.version == p.version and cp.position < head
            skipped = poison.skipped_positions(self.log, conn, p.name) if busy else frozenset()
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
            with Operation("projection_batch", self.store.settings.slow_ms,
                           {"projector": p.name, "after": cp.position, "events": len(events)}):
                prepared = p.prepare(self.store, events) if events else None
                applied = self.store.write(lambda conn: self._apply_batch(
                    conn, p, cp.position, covered, events, prepared))
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

    def _apply_batch(self, session: Session, p: Projector, expected: int, covered: int,
                     events: Sequence[RecordedEvent], prepared: Any) -> bool | poison.Poison:
        cp = self.checkpoints.read(session).get(p.name)
        if cp is None or cp.position != expected or cp.version != p.version:
            return False  # someone else moved it: read again
        found = poison.apply_isolating(
            session, p, ProjectionContext(session, live_tables(p), self.readmodels,
                                          prepared=prepared), events)
        if found is not None:
            poison.park(self.checkpoints, session, found)
            return found
        changes: dict[str, Any] = {"position": covered, "updated_at": utc_now(), "failures": 0}
        if cp.state == "parked":
            # Moving on from a parked state (a skip) clears the error it was parked with.
            changes.update(state="live", last_error=None, error_position=None)
        self.checkpoints.update(session, [p.name], changes)
        return True

    def _record_failure(self, p: Projector, err: ProjectionError, position: int | None) -> None:
        limit = self.store.settings.projection_max_failures

        def job(session: Session) -> int:
            cp = self.checkpoints.read(session).get(p.name)
            if cp is None:
                return 0
            failures = cp.failures + 1
            cannot_run = isinstance(err, ProjectorCannotRun)  # no event at fault: never parked
            changes: dict[str, Any] = {"failures": failures, "last_error": str(err),
                                       "error_position": None if cannot_run else position,
                                       "updated_at": utc_now()}
            if failures >= limit and not cannot_run:
                changes["state"] = "parked"
            self.checkpoints.update(session, [p.name], changes)
            return failures

        try:
            failures = self.store.write(job)
        except Exception:  # pragma: no cover - store closing
            return
        self._backoff_until[p.name] = time.monotonic() + min(0.1 * 2 ** failures, 30.0)
        log.warning("projector %s failed (%d in a row): %s", p.name, failures, err)

    def unpark(self, names: list[str]) -> None:
        ps = select(self.projectors, names)

        def job(session: Session) -> None:
            cps = self.checkpoints.read(session)
            names = [p.name for p in ps if p.name in cps and cps[p.name].state == "parked"]
            self.checkpoints.update(session, names, {"state": "live", "failures": 0})
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
        if self._signal is not None:
            self._signal.wake()
        if self._daemon is not None:
            self._daemon.join()
            self._daemon = None

    def _run_daemon(self) -> None:
        poll = self.store.settings.projection_poll_s
        # Woken by commits of any process where the backend announces them (PostgreSQL);
        # the poll interval stays the longest wait either way.
        signal = self._signal = self.store.commit_signal()
        # Where several nodes share the store, a projector is stepped only by the node
        # holding its lease (storage.leases); the others take over when that node dies.
        leases = self.store.leases()
        try:
            self._daemon_loop(poll, signal, leases)
        finally:
            if leases is not None:
                leases.close()

    def _daemon_loop(self, poll: float, signal: CommitSignal | None,
                     leases: Leases | None) -> None:
        while not self._stop.is_set():
            seen = signal.seen() if signal is not None else 0
            moved = False
            for p in self.projectors:
                if p.mode != "async" or self._stop.is_set():
                    continue
                if leases is not None and not leases.hold(f"projector:{p.name}"):
                    continue
                if time.monotonic() < self._backoff_until.get(p.name, 0.0):
                    continue
                try:
                    step_moved, _, _ = self._step(p)
                    moved |= step_moved
                except Exception:  # the store is closing under us
                    log.debug("projection daemon step failed", exc_info=True)
            if not moved:
                if signal is not None:
                    signal.wait(seen, poll)
                else:
                    self._stop.wait(poll)

    # -- rebuild ---------------------------------------------------------------------------

    def rebuild(self, names: list[str] | None = None, progress: Progress | None = None) -> None:
        """Rebuild into shadow tables from position 0, then swap them in in one transaction."""
        Rebuilder(self.store).rebuild(select(self.projectors, names), progress)

    # -- status and digests ----------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            cps = self.checkpoints.read(conn)
            head = self.log.head_position(conn)
            rows = []
            for p in self.projectors:
                cp = cps.get(p.name)
                position = cp.position if cp else 0
                if cp is not None and cp.state == "live" and cp.version == p.version:
                    position = self.hooks.implied_position(position, head)  # lazy inline
                lag_seconds = 0.0
                if position < head:
                    first = self.log.read_all(conn, from_position=position + 1,
                                              to_position=position + 1, payload=False)
                    if first:
                        then = datetime.strptime(first[0].recorded_at,
                                                 "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
                        lag_seconds = max(0.0, (datetime.now(UTC) - then).total_seconds())
                error_type = None
                if cp is not None and cp.error_position is not None:
                    found = self.log.read_all(conn, from_position=cp.error_position,
                                              to_position=cp.error_position, payload=False)
                    error_type = found[0].type if found else None
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
            cp = self.checkpoints.read(conn).get(p.name)
            found = self.log.read_all(conn, from_position=position, to_position=position)
            skipped = poison.skipped_positions(self.log, conn, p.name)
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
            return {p.name: digest.projector_digest(self.readmodels, conn, p)
                    for p in select(self.projectors, names)}
