"""questlog.game: the game-state side — events, commands, aggregates, read models.

- `events_campaign`, `events_character`, `events_encounter`: the 40 domain events
  (pydantic models with schema versions), registered in `registry` (validate,
  decode, upcast); `normalize`: the one tolerant reading of recorded game events
  (accepted variants → the written form) used by folds and projectors;
- `commands`: what a game server asks for; `deciders*`: the rules that turn a
  command into events (or a DomainError from `errors`);
- `fold` / `state`: aggregates as pure folds over their streams;
- `api.GameAPI` (= `store.game`): one atomic append per AI response, snapshots,
  time travel, and the read-model queries of `repository`.

Kept light: importing this package pulls in pydantic only.
"""

from .errors import (
    EncounterNotActive,
    EntityExists,
    InvalidCommand,
    RuleViolation,
    UnknownContentReference,
    UnknownEntity,
)

__all__ = [
    "EncounterNotActive", "EntityExists", "InvalidCommand", "RuleViolation",
    "UnknownContentReference", "UnknownEntity",
]
