"""Nested parts several entry models share: costs, damage rolls, saves, usage, bonuses.

Kept apart from `base` so that a model using none of them (a spell) does not create
their classes: a cold `questlog content get spells ...` imports `base` and its own
module only.
"""

from typing import Literal

from .base import Part, Reference


class ScorePrerequisite(Part):
    ability_score: Reference
    minimum_score: int


class AbilityBonus(Part):
    ability_score: Reference
    bonus: int


class Cost(Part):
    quantity: int
    unit: Literal["cp", "sp", "ep", "gp", "pp"]


class DamageRoll(Part):
    damage_type: Reference
    damage_dice: str


class SavingThrowDC(Part):
    """A monster's or trait's save: ability, DC value (monsters) and what success does."""

    dc_type: Reference
    dc_value: int | None = None
    success_type: str


class Usage(Part):
    """How often a monster ability works: per day, recharge on roll, after a rest."""

    type: str
    times: int | None = None
    dice: str | None = None
    min_value: int | None = None
    rest_types: list[str] | None = None


class StartingEquipment(Part):
    equipment: Reference
    quantity: int
