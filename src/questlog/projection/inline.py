"""Inline projection: live inline projectors applied inside each append batch of the writer."""

from __future__ import annotations

from collections.abc import Sequence

from .. import eventstore
from ..db import DBAPIConnection
from ..events import RecordedEvent, utc_now
from . import poison
from .checkpoints import live_tables, read_checkpoints, wrap_failure
from .projector import ProjectionContext, Projector

INLINE_GAP_LIMIT = 5000  # events an inline projector may catch up inside an append batch


class InlineHooks:
    """Plugged into the writer: runs live inline projectors inside each append batch."""

    def __init__(self, projectors: Sequence[Projector]) -> None:
        self.projectors = [p for p in projectors if p.mode == "inline"]
        self._live: list[Projector] = []
        self._start_head = 0

    @property
    def active(self) -> bool:
        """Inline projectors write in the append's transaction, so batches need one."""
        return bool(self.projectors)

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
                # These are stored events: one it cannot apply parks the projector and
                # never fails the appends of this batch.
                found = poison.apply_isolating(
                    conn, p, ProjectionContext(conn, live_tables(p)),
                    poison.without_skipped(missed, poison.skipped_positions(conn, p.name)))
                if found is not None:
                    poison.park(conn, found)
                    continue
                # Move the checkpoint now, so a catch-up job in this batch cannot re-apply.
                conn.execute("UPDATE projector_checkpoints SET position = ? WHERE name = ?",
                             (head_position, p.name))
            live.append(p)
        # Only a projector at the head, on its current version, takes the batch's events.
        self._live = live
        self._start_head = head_position

    def project(self, conn: DBAPIConnection, events: list[RecordedEvent],
                trusted: bool = False) -> None:
        """Apply the events being appended. An event a projector cannot apply fails its
        call, unless the events are trusted recorded facts (replay, validate=False): then
        they are stored and that projector alone parks just before the poison event."""
        for p in list(self._live):
            handled = [e for e in events if p.handles(e)]
            if not handled:
                continue
            ctx = ProjectionContext(conn, live_tables(p))
            if trusted:
                found = poison.apply_isolating(conn, p, ctx, handled)
                if found is not None:
                    poison.park(conn, found)
                    # If the call is rolled back after all, the projector's checkpoint
                    # stays behind the head and the next batch closes that gap.
                    self._live.remove(p)
                continue
            try:
                p.apply(ctx, handled)
            except Exception as exc:
                # Point at the first event of the failing call's events for the message.
                raise wrap_failure(p, handled, exc) from exc

    def after_batch(self, conn: DBAPIConnection, head_position: int) -> None:
        if self._live:
            marks = ",".join("?" * len(self._live))
            conn.execute(
                f"UPDATE projector_checkpoints SET position = ?, updated_at = ? "
                f"WHERE name IN ({marks})",
                [head_position, utc_now(), *[p.name for p in self._live]])
        self._live = []
