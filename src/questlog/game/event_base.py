"""Base of the game's domain event models.

Every event model knows its type name, its current schema version and the
stream category it belongs to. `data` on the log is the model's JSON dump;
older shapes are upgraded by the upcasters in `upcasting.py` before decoding.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

Category = Literal["campaign", "character", "encounter"]
#: The game's stream categories (`campaign-<id>`, ...): the generic append checks known
#: game event types on these (planner.make_call → normalize.check_append).
GAME_CATEGORIES: frozenset[str] = frozenset(get_args(Category))


class GameEvent(BaseModel):
    """A domain fact of play. Subclasses set `event_type`, `schema_version`, `category`."""

    model_config = ConfigDict(extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    category: ClassVar[Category]

    def payload(self) -> dict[str, Any]:
        """The `data` stored on the log (JSON-ready)."""
        return self.model_dump(mode="json")


class Source(BaseModel):
    """Who or what caused a change: attacker, weapon or spell, free text for the rest."""

    model_config = ConfigDict(extra="forbid")

    attacker_id: str | None = None
    attacker_name: str | None = None
    weapon_or_spell: str | None = None
    description: str | None = Field(default=None, max_length=500)
