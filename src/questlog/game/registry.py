"""The registry of game event types: validate, decode and upcast.

Stored events are never rewritten: an event read with an older
`schema_version` is upgraded step by step (v1→v2→…) by registered upcasters
before it is decoded or folded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from .errors import InvalidCommand
from .event_base import GameEvent
from .events_campaign import CAMPAIGN_EVENTS
from .events_character import CHARACTER_EVENTS
from .events_encounter import ENCOUNTER_EVENTS
from .refs import condition_ref

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

EVENT_MODELS: dict[str, type[GameEvent]] = {
    model.event_type: model for model in (*CAMPAIGN_EVENTS, *CHARACTER_EVENTS, *ENCOUNTER_EVENTS)
}
GAME_EVENT_TYPES: frozenset[str] = frozenset(EVENT_MODELS)
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UnknownGameEvent(InvalidCommand):
    """An event type that is not one of the game's registered events."""


def register_upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register fn(data_at_from_version) -> data_at_from_version+1."""

    def decorate(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(event_type, from_version)] = fn
        return fn

    return decorate


def current_version(event_type: str) -> int:
    model = EVENT_MODELS.get(event_type)
    if model is None:
        raise UnknownGameEvent(f"unknown game event type {event_type!r}")
    return model.schema_version


def upcast(event_type: str, schema_version: int, data: dict[str, Any]) -> dict[str, Any]:
    """`data` brought to the current schema version of `event_type` (a new dict if changed)."""
    target = current_version(event_type)
    version = schema_version
    while version < target:
        step = _UPCASTERS.get((event_type, version))
        if step is None:
            raise UnknownGameEvent(
                f"no upcaster for {event_type} v{version} (current is v{target})")
        data = step(data)
        version += 1
    if version > target:
        raise UnknownGameEvent(
            f"{event_type} v{schema_version} is newer than this code knows (v{target})")
    return data


def decode(event_type: str, schema_version: int, data: dict[str, Any]) -> GameEvent:
    """The typed event, upcast first; a bad payload raises InvalidCommand naming the fields."""
    model = EVENT_MODELS.get(event_type)
    if model is None:
        raise UnknownGameEvent(f"unknown game event type {event_type!r}")
    try:
        return model.model_validate(upcast(event_type, schema_version, data))
    except ValidationError as exc:
        raise InvalidCommand(f"invalid {event_type} payload: {_errors(exc)}") from exc


def validate(event_type: str, data: dict[str, Any], schema_version: int | None = None) -> None:
    """Raise InvalidCommand unless `data` is a valid payload of `event_type`."""
    decode(event_type, schema_version or current_version(event_type), data)


def _errors(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "payload"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


# --- the upcasters ---------------------------------------------------------------------


@register_upcaster("ConditionApplied", 1)
def _condition_applied_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 `condition` was a bare lowercase name ("poisoned"); v2 is a content ref.

    The SRD's 15 conditions become `conditions/<index>` refs; any other name
    (the source's own "defeated", AI inventions) becomes a homebrew ref.
    """
    out = dict(data)
    value = out.get("condition")
    if isinstance(value, str):
        out["condition"] = condition_ref(value).model_dump(mode="json")
    return out
