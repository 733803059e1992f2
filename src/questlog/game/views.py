"""What every view shows of an encounter: one rule, so `game show`, the HTTP state route
and the encounter tracker cannot disagree.

A player character's HP and conditions live on its own character stream (the encounter
stream holds only a copy from when it joined), so a view of an encounter takes each
player character's current HP, maximum HP, conditions and death from the character's
state at the same point of the log.
"""

from __future__ import annotations

from collections.abc import Mapping

from .state import CharacterState, EncounterState


def pc_ids(encounter: EncounterState) -> list[str]:
    """The characters behind the encounter's player-character combatants."""
    return sorted({c.character_id for c in encounter.combatants.values()
                   if c.kind == "pc" and c.character_id})


def encounter_view(encounter: EncounterState,
                   characters: Mapping[str, CharacterState]) -> EncounterState:
    """A copy of `encounter` with each player character's HP, conditions and defeat
    taken from `characters` (by character id; a missing one keeps the copy it joined with)."""
    view = encounter.model_copy(deep=True)
    for c in view.combatants.values():
        pc = characters.get(c.character_id or "") if c.kind == "pc" else None
        if pc is None or not pc.exists:
            continue
        c.hp, c.max_hp = pc.current_hp, pc.max_hp
        c.conditions = [pc.conditions[index].condition for index in sorted(pc.conditions)]
        c.defeated = pc.dead
    return view
