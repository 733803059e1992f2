"""Inline projection: live inline projectors applied inside each append batch of the writer.

A batch none of whose events an inline projector handles (by event type and
category, `concerns`) needs no transaction: the writer takes its log-alone path
(one statement) and the checkpoints stay where they are. They advance lazily:
the hooks remember (`_lazy`) that every event between the head at which the last
transactional batch left the live checkpoints ("settled") and the head now
("implied") was written by this writer in such a batch, so a checkpoint at or
above the settled head is, in effect, at the head — the next transactional batch moves
it there before anything else runs. Nothing is applied twice or skipped: a
checkpoint on disk never claims more than was applied, and what these hooks
remember is lost with the process, after which the usual gap closing (below, and
the inline catch-up at start) reads the events it passed over and finds nothing
to apply among them. At most `LAZY_LIMIT` events pass before a transactional
batch moves the checkpoints, so that gap stays short.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..events import RecordedEvent, utc_now
from ..storage.checkpoints import Checkpoints
from ..storage.log import Log
from ..storage.readmodels import ReadModels
from ..storage.session import Session
from . import poison
from .checkpoints import live_tables, wrap_failure
from .projector import ProjectionContext, Projector

INLINE_GAP_LIMIT = 5000  # events an inline projector may catch up inside an append batch
# Events batches may pass over before the checkpoints are moved. Each move makes one
# batch a transaction that builds every event's RecordedEvent: at 1,000, batches of
# 8 x 100-event calls took that path every second batch and the default store ran at
# 0.7-0.8 of the log alone (benchmarks/append.py); at 4,000 it runs at ~0.99. Kept under
# INLINE_GAP_LIMIT, so the gap a crash leaves is still closed inside the next batch.
LAZY_LIMIT = 4000


class _Concern:
    """Which (category, type) pairs any of the inline projectors handles."""

    def __init__(self, projectors: Sequence[Projector]) -> None:
        self.everything = False
        self.any_category: set[str] = set()  # types handled on every category
        self.by_category: dict[str, set[str] | None] = {}  # None: every type of it
        for p in projectors:
            if type(p).handles is not Projector.handles:
                self.everything = True  # its own rule: assume it handles anything
            elif p.categories is None:
                if p.event_types is None:
                    self.everything = True
                else:
                    self.any_category |= p.event_types
            else:
                for category in p.categories:
                    if p.event_types is None:
                        self.by_category[category] = None
                    else:
                        known = self.by_category.setdefault(category, set())
                        if known is not None:
                            known |= p.event_types

    def one(self, category: str, type_: str) -> bool:
        """True when an event of this category and type is handled by a projector."""
        if self.everything or type_ in self.any_category:
            return True
        if category in self.by_category:
            types = self.by_category[category]
            return types is None or type_ in types
        return False

    def any(self, events: Iterable[tuple[str, str]]) -> bool:
        """True when some (category, type) of `events` is handled by a projector."""
        one = self.one
        return any(one(category, type_) for category, type_ in events)


class InlineHooks:
    """Plugged into the writer: runs live inline projectors inside each append batch."""

    def __init__(self, projectors: Sequence[Projector], log: Log, checkpoints: Checkpoints,
                 readmodels: ReadModels) -> None:
        self.projectors = [p for p in projectors if p.mode == "inline"]
        self.log = log
        self.checkpoints = checkpoints
        self.readmodels = readmodels
        self._live: list[Projector] = []
        self._start_head = 0
        self._concern = _Concern(self.projectors)
        # (settled, implied), see the module's docstring; None: nothing known, so gaps are
        # closed by reading the log. One tuple, so another thread reads a consistent pair.
        self._lazy: tuple[int, int] | None = None

    def concerns(self, events: Iterable[tuple[str, str]]) -> bool:
        """True when a batch of these (category, type) events needs the transaction:
        some inline projector handles one of them, or the checkpoints are due to move."""
        if not self.projectors:
            return False
        lazy = self._lazy
        if lazy is None or lazy[1] - lazy[0] >= LAZY_LIMIT:
            return True
        return self._concern.any(events)

    def records(self, category: str, type_: str) -> bool:
        """True when some inline projector may handle events of this category and type.
        A batch that is a transaction only because the checkpoints are due to move builds
        no RecordedEvent and hands the projectors nothing (a 10,000-event call through the
        default store cost 20.8 µs an event against 14.7 for the log alone before)."""
        return self._concern.one(category, type_)  # False with no inline projector

    def passed_over(self, head_before: int, head_after: int) -> None:
        """A batch the projectors are not concerned with committed (head_before, head_after]
        without a transaction: the checkpoints at or above the settled head are implied there."""
        lazy = self._lazy
        if lazy is not None and lazy[1] == head_before:
            self._lazy = (lazy[0], head_after)

    def implied_position(self, position: int, head: int) -> int:
        """Where an inline checkpoint stored at `position` is, in effect, when the log's
        head is `head` (for status: the lazily moved ones are at the head)."""
        lazy = self._lazy
        if lazy is not None and position >= lazy[0] and lazy[1] == head:
            return head
        return position

    @property
    def checkpoints_behind(self) -> bool:
        """True while batches have passed over events since the checkpoints last moved: a
        transactional batch (even an empty write job) moves them to the head."""
        lazy = self._lazy
        return lazy is not None and lazy[1] > lazy[0]

    @property
    def active(self) -> bool:
        """Inline projectors write in the append's transaction, so batches need one."""
        return bool(self.projectors)

    def before_batch(self, session: Session, head_position: int) -> None:
        if not self.projectors:
            return
        cps = self.checkpoints.read(session)
        # Checkpoints at or above `settled` are implied at the head when every event since
        # was this writer's and concerned no projector (then head_position is `implied`).
        lazy = self._lazy
        settled = lazy[0] if lazy is not None and lazy[1] == head_position else None
        self._lazy = None  # known again once this batch's after_batch has run
        live = []
        implied: list[str] = []
        for p in self.projectors:
            cp = cps.get(p.name)
            if cp is None or cp.version != p.version or cp.state == "parked":
                continue
            if cp.position < head_position and settled is not None and cp.position >= settled:
                implied.append(p.name)  # nothing for it in between: moved below, unread
            elif cp.position < head_position:
                # Another process appended without this projector (or it was just added):
                # a short gap is closed here, in order; a long one is left to catch-up jobs.
                if head_position - cp.position > INLINE_GAP_LIMIT:
                    continue
                missed = [e for e in self.log.read_all(session, from_position=cp.position + 1,
                                                       payload=p.payload) if p.handles(e)]
                # These are stored events: one it cannot apply parks the projector and
                # never fails the appends of this batch.
                found = poison.apply_isolating(
                    session, p, ProjectionContext(session, live_tables(p), self.readmodels),
                    poison.without_skipped(missed,
                                           poison.skipped_positions(self.log, session, p.name)))
                if found is not None:
                    poison.park(self.checkpoints, session, found)
                    continue
                # Move the checkpoint now, so a catch-up job in this batch cannot re-apply.
                self.checkpoints.update(session, [p.name], {"position": head_position})
            live.append(p)
        if implied:
            # Now, as for a closed gap, so that a catch-up job in this batch cannot re-apply.
            self.checkpoints.update(session, implied, {"position": head_position})
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
        # Every live checkpoint is at this head (if the commit fails, the writer forgets its
        # tip, and the next batch reads the log: its head will not match `_implied`).
        self._lazy = (head_position, head_position)
