"""Poison events: the one recorded event a projector cannot apply parks that projector alone.

Every path that applies events (inline hooks, catch-up, rebuilds) applies a batch
in a savepoint; when the projector raises, the batch is rolled back and applied
again event by event until the one that fails. The events before it take effect,
the projector's checkpoint stops just before it, and the checkpoint records the
position, the type and the reason (`projections status`). Every other projector
goes on.

An operator steps over a poison event with `questlog projections skip NAME POSITION`,
which appends a `ProjectorEventSkipped` event to the stream `projector-<NAME>`:
the decision is part of the log, so a replay of the log makes the same one. Skips
name the event by its id (stable across stores; positions are not), and every
path that applies events leaves skipped events out for that projector.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import ProjectorCannotRun
from ..errors import ProjectorsParked as ProjectorsParked  # re-exported: it moved to errors
from ..events import utc_now
from ..storage.checkpoints import Checkpoints
from ..storage.log import Log
from ..storage.session import Session
from .checkpoints import position_of
from .projector import ProjectionContext, Projector

T = TypeVar("T")
SKIP_EVENT_TYPE = "ProjectorEventSkipped"
SKIP_STREAM_PREFIX = "projector-"  # stream ids allow no '$'; category "projector"


def skip_stream(projector: str) -> str:
    """The stream that records the operator's skips for one projector."""
    return f"{SKIP_STREAM_PREFIX}{projector}"


@dataclass(frozen=True)
class Poison:
    """The event a projector could not apply."""

    projector: str
    position: int
    event_type: str
    reason: str

    def describe(self) -> str:
        return (f"projector {self.projector!r} cannot apply event {self.position} "
                f"({self.event_type}): {self.reason}")


def _type_of(item: Any) -> str:
    return str(item[4]) if isinstance(item, tuple) else str(item.type)


REASON_LIMIT = 300  # characters of the error kept in the checkpoint


def _reason(exc: Exception) -> str:
    """The error on one line (a pydantic error names the field on its second line)."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return reason if len(reason) <= REASON_LIMIT else reason[:REASON_LIMIT - 1] + "…"


def apply_isolating(session: Session, p: Projector, ctx: ProjectionContext,
                    items: Sequence[Any]) -> Poison | None:
    """Apply events (or envelope rows) to `p`; on failure apply those before the first one
    `p` cannot apply and return it (its rows and everything after it are not applied)."""
    if not items:
        return None
    apply: Callable[[ProjectionContext, Sequence[Any]], None] = (
        p.apply_rows if isinstance(items[0], tuple) else p.apply)
    try:
        with session.savepoint("projector_batch"):
            apply(ctx, items)
        return None
    except ProjectorCannotRun:
        raise  # not an event's fault: nothing to isolate
    except Exception:
        pass
    # Only a failing batch pays for one savepoint per event.
    for item in items:
        try:
            with session.savepoint("projector_event"):
                apply(ctx, [item])
        except ProjectorCannotRun:
            raise
        except Exception as exc:
            return Poison(p.name, position_of(item), _type_of(item), _reason(exc))
    # The batch failed but no event alone does: not a poison event (e.g. a fault of the
    # batch as a whole). Everything is applied now, one by one, which is just as right.
    return None


def park(checkpoints: Checkpoints, session: Session, poison: Poison) -> None:
    """Stop the projector just before the poison event and say why (same transaction)."""
    cp = checkpoints.read(session).get(poison.projector)
    checkpoints.update(session, [poison.projector], {
        "position": poison.position - 1, "state": "parked",
        "failures": (cp.failures if cp else 0) + 1, "last_error": poison.reason,
        "error_position": poison.position, "updated_at": utc_now()})


def skipped_positions(log: Log, conn: Session, projector: str) -> frozenset[int]:
    """Positions, in this store, of the events recorded as skipped for `projector`."""
    ids = [e.data.get("event_id") for e in log.read_stream(conn, skip_stream(projector))
           if e.type == SKIP_EVENT_TYPE]
    if not ids:
        return frozenset()
    found = log.existing_events(conn, [i for i in ids if isinstance(i, str)])
    return frozenset(key.position for key in found.values())


def without_skipped(items: list[T], skipped: frozenset[int]) -> list[T]:
    if not skipped:
        return items
    return [i for i in items if position_of(i) not in skipped]
