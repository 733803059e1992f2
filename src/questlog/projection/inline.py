"""Inline projection: live inline projectors applied inside each append batch of the writer."""

from __future__ import annotations

from collections.abc import Sequence

from .. import eventstore
from ..events import RecordedEvent, utc_now
from ..storage.checkpoints import Checkpoints
from ..storage.readmodels import ReadModels
from ..storage.session import Session
from . import poison
from .checkpoints import live_tables, wrap_failure
from .projector import ProjectionContext, Projector

INLINE_GAP_LIMIT = 5000  # events an inline projector may catch up inside an append batch


class InlineHooks:
    """Plugged into the writer: runs live inline projectors inside each append batch."""

    def __init__(self, projectors: Sequence[Projector], checkpoints: Checkpoints,
                 readmodels: ReadModels) -> None:
        self.projectors = [p for p in projectors if p.mode == "inline"]
        self.checkpoints = checkpoints
        self.readmodels = readmodels
        self._live: list[Projector] = []
        self._start_head = 0

    @property
    def active(self) -> bool:
        """Inline projectors write in the append's transaction, so batches need one."""
        return bool(self.projectors)

    def before_batch(self, session: Session, head_position: int) -> None:
        if not self.projectors:
            return
        cps = self.checkpoints.read(session)
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
                missed = [e for e in eventstore.read_all(session, from_position=cp.position + 1,
                                                         payload=p.payload) if p.handles(e)]
                # These are stored events: one it cannot apply parks the projector and
                # never fails the appends of this batch.
                found = poison.apply_isolating(
                    session, p, ProjectionContext(session, live_tables(p), self.readmodels),
                    poison.without_skipped(missed, poison.skipped_positions(session, p.name)))
                if found is not None:
                    poison.park(self.checkpoints, session, found)
                    continue
                # Move the checkpoint now, so a catch-up job in this batch cannot re-apply.
                self.checkpoints.update(session, [p.name], {"position": head_position})
            live.append(p)
        # Only a projector at the head, on its current version, takes the batch's events.
        self._live = live
        self._start_head = head_position

    def project(self, session: Session, events: list[RecordedEvent],
                trusted: bool = False) -> None:
        """Apply the events being appended. An event a projector cannot apply fails its
        call, unless the events are trusted recorded facts (replay, validate=False): then
        they are stored and that projector alone parks just before the poison event."""
        for p in list(self._live):
            handled = [e for e in events if p.handles(e)]
            if not handled:
                continue
            ctx = ProjectionContext(session, live_tables(p), self.readmodels)
            if trusted:
                found = poison.apply_isolating(session, p, ctx, handled)
                if found is not None:
                    poison.park(self.checkpoints, session, found)
                    # If the call is rolled back after all, the projector's checkpoint
                    # stays behind the head and the next batch closes that gap.
                    self._live.remove(p)
                continue
            try:
                p.apply(ctx, handled)
            except Exception as exc:
                # Point at the first event of the failing call's events for the message.
                raise wrap_failure(p, handled, exc) from exc

    def after_batch(self, session: Session, head_position: int) -> None:
        if self._live:
            self.checkpoints.update(session, [p.name for p in self._live],
                                    {"position": head_position, "updated_at": utc_now()})
        self._live = []
