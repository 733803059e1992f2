"""Rebuilds without downtime: shadow tables filled from position 0, swapped in at once.

The named projectors are rebuilt in one pass over the log per kind (row-mode and
event-mode); each batch goes through the writer queue with a compare-and-set on
the shadow's position, and the swap catches up to the head and swaps the
shadows in over the live tables (`ReadModels.swap`) in one short transaction.
Readers see the old complete model until that commit; an interrupted rebuild resumes.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..completion import Completion
from ..errors import ProjectionError
from ..events import utc_now
from ..storage.session import Session
from .checkpoints import Progress, forget_shadows, position_of, read_items, shadow_tables
from .poison import Poison, apply_isolating, park, skipped_positions, without_skipped
from .projector import ProjectionContext, Projector, forget_statements

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger("questlog.projections")


class Rebuilder:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.checkpoints = store.checkpoints
        self.readmodels = store.readmodels
        self.log = store.backend.log
        # Per projector of the running group: the skips recorded in the log, and the
        # poison event that stopped its shadow (touched only by jobs on the writer
        # thread, which run in order, and read after they finish).
        self._skipped: dict[str, frozenset[int]] = {}
        self._stopped: dict[str, Poison] = {}

    def rebuild(self, chosen: Sequence[Projector], progress: Progress | None = None) -> None:
        """Rebuild into shadow tables from position 0, then swap them in in one transaction.

        The named projectors are rebuilt in one pass over the log per kind: each batch is
        read once and fed to every projector's shadow tables. Row-mode projectors (no
        payload, `apply_rows`) get raw envelope rows: no event objects are built at all.
        """
        row_mode = [p for p in chosen if p.row_mode()]
        event_mode = [p for p in chosen if not p.row_mode()]
        for group in (row_mode, event_mode):
            if group:
                self._rebuild_group(group, progress)

    def _rebuild_group(self, chosen: list[Projector], progress: Progress | None) -> None:
        rows = chosen[0].row_mode()
        starts: dict[str, tuple[str, int]] = self.store.write(
            lambda conn: {p.name: self._begin_rebuild(conn, p) for p in chosen})
        with self.store.read() as conn:
            self._skipped = {p.name: skipped_positions(self.log, conn, p.name) for p in chosen}
        self._stopped = {}
        payload = any(p.payload for p in chosen)
        batch = self.store.settings.projection_rebuild_batch_size
        positions = {p.name: starts[p.name][1] for p in chosen}
        position = min(positions.values())
        events: list[Any] = []
        pending: Completion[None] | None = None
        while True:
            with self.store.read() as conn:
                head = self.log.head_position(conn)
                events = read_items(self.log, conn, rows, payload, from_position=position + 1,
                                     to_position=head, limit=batch)
            covered = position_of(events[-1]) if len(events) == batch else head
            if progress is not None:
                progress(position, head)
            if len(events) < batch:
                break  # close to the head: the swap transaction takes the rest
            work = self._rebuild_work(chosen, positions, events)
            expected = dict(positions)

            def step(conn: Session, work: list[tuple[Projector, list[Any], Any]]
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
            tail_positions = [position_of(e) for e in events]
            swapped = self.store.write(functools.partial(
                self._swap, chosen=chosen, starts=starts, positions=positions,
                position=position, payload=payload, rows=rows, tail=tail,
                tail_positions=tail_positions, force=attempt == 3))
            if swapped is not None:
                break
            with self.store.read() as conn:
                events = read_items(self.log, conn, rows, payload, from_position=position + 1)
        assert swapped is not None
        if progress is not None:
            progress(swapped, swapped)
        log.info("rebuilt %s to position %d", ", ".join(p.name for p in chosen), swapped)
        for found in self._stopped.values():
            log.warning("%s; swapped in parked at position %d", found.describe(),
                        found.position - 1)

    def _swap(self, conn: Session, chosen: Sequence[Projector],
              starts: dict[str, tuple[str, int]], positions: dict[str, int], position: int,
              payload: bool, rows: bool, tail: list[tuple[Projector, list[Any], Any]],
              tail_positions: list[int], force: bool) -> int | None:
        """Apply the tail to the shadows and rename them over the live tables, atomically."""
        head = self.log.head_position(conn)
        rest = read_items(self.log, conn, rows, payload, from_position=position + 1)
        if [position_of(e) for e in rest] == tail_positions:
            work = tail
        elif not force:
            return None
        else:
            work = self._rebuild_work(chosen, positions, rest)
        now = utc_now()
        for p, handled, prepared in work:
            suffix = starts[p.name][0]
            self._rebuild_apply(conn, p, suffix, positions[p.name], head, handled, prepared)
            shadows = shadow_tables(p, suffix)
            for t in p.tables:
                self.readmodels.swap(conn, shadows[t.name], t)
            self.checkpoints.update(conn, [p.name], {
                "version": p.version, "mode": p.mode, "position": head, "state": "live",
                "updated_at": now, "failures": 0, "last_error": None, "error_position": None,
                "rebuild_version": None, "rebuild_position": None, "rebuild_suffix": None,
                "rebuild_started_at": None})
            forget_statements(forget_shadows(p, suffix))
            stopped = self._stopped.get(p.name)
            if stopped is not None:
                # The rest is swapped in: the model is whole up to the poison event.
                park(self.checkpoints, conn, stopped)
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
            if p.name in self._stopped:
                handled = []
            elif p.event_types is None and p.categories is None and (
                    not events or position_of(events[0]) > start):
                handled = list(events)  # handles everything: skip the per-event filter
            elif rows:
                handled = [r for r in events if r[0] > start and p.handles_row(r)]
            else:
                handled = [e for e in events if e.position > start and p.handles(e)]
            handled = without_skipped(handled, self._skipped.get(p.name, frozenset()))
            prepared = p.prepare(self.store, handled) if handled and not rows else None
            work.append((p, handled, prepared))
        return work

    def _begin_rebuild(self, conn: Session, p: Projector) -> tuple[str, int]:
        """Create (or resume) the projector's shadow tables; returns (suffix, position)."""
        cp = self.checkpoints.read(conn).get(p.name)
        if cp is not None and cp.rebuild_suffix and cp.rebuild_version == p.version and all(
                self.readmodels.exists(conn, t.name)
                for t in shadow_tables(p, cp.rebuild_suffix).values()):
            return cp.rebuild_suffix, cp.rebuild_position or 0  # resume
        if cp is not None and cp.rebuild_suffix:
            for t in forget_shadows(p, cp.rebuild_suffix):
                self.readmodels.drop(conn, t.name)
        suffix = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
        for t in shadow_tables(p, suffix).values():
            self.readmodels.create(conn, t)
        now = utc_now()
        if cp is None:
            self.checkpoints.insert(conn, p.name, p.version, p.mode, "rebuilding", now)
        self.checkpoints.update(conn, [p.name], {
            "rebuild_version": p.version, "rebuild_position": 0, "rebuild_suffix": suffix,
            "rebuild_started_at": now, "state": "rebuilding"})
        return suffix, 0

    def _rebuild_apply(self, conn: Session, p: Projector, suffix: str, expected: int,
                       covered: int, events: Sequence[Any], prepared: Any) -> None:
        if p.name in self._stopped:
            return  # its shadow ends before a poison event: nothing after it applies
        cp = self.checkpoints.read(conn).get(p.name)
        if cp is None or cp.rebuild_suffix != suffix or cp.rebuild_position != expected:
            raise ProjectionError(f"rebuild of {p.name!r} was taken over by another process",
                                  projector=p.name)
        if events:
            ctx = ProjectionContext(conn, shadow_tables(p, suffix), self.readmodels,
                                    prepared=prepared, rebuilding=True)
            found = apply_isolating(conn, p, ctx, events)
            if found is not None:
                self._stopped[p.name] = found
                covered = found.position - 1
        self.checkpoints.update(conn, [p.name], {"rebuild_position": covered})
