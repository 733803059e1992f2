"""The one recursive shape of every player choice in the 5e-database data.

`{choose, type, desc?, from: {option_set_type, ...}}` where the option set is an
options array, an equipment category or a resource list, and each option is
tagged by `option_type` (reference, counted_reference, choice, multiple,
string, ideal, ability_bonus, score_prerequisite, breath, damage, action).
Kept apart from `base` so models without choices (spells, items) load faster.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from .base import Part, Reference
from .parts import DamageRoll, SavingThrowDC


class ReferenceOption(Part):
    option_type: Literal["reference"]
    item: Reference


class CountedReferenceOption(Part):
    option_type: Literal["counted_reference"]
    count: int
    of: Reference
    prerequisites: list[dict[str, Any]] | None = None


class ChoiceOption(Part):
    option_type: Literal["choice"]
    choice: Choice


class MultipleOption(Part):
    option_type: Literal["multiple"]
    items: list[Option]
    desc: str | None = None


class StringOption(Part):
    option_type: Literal["string"]
    string: str


class IdealOption(Part):
    option_type: Literal["ideal"]
    desc: str
    alignments: list[Reference]


class AbilityBonusOption(Part):
    option_type: Literal["ability_bonus"]
    ability_score: Reference
    bonus: int


class ScorePrerequisiteOption(Part):
    option_type: Literal["score_prerequisite"]
    ability_score: Reference
    minimum_score: int


class BreathOption(Part):
    option_type: Literal["breath"]
    name: str
    dc: SavingThrowDC
    damage: list[DamageRoll] | None = None


class DamageOption(Part):
    option_type: Literal["damage"]
    damage_type: Reference
    damage_dice: str
    notes: str | None = None


class ActionOption(Part):
    option_type: Literal["action"]
    action_name: str
    count: int | str
    type: str
    desc: str | None = None


Option = Annotated[
    ReferenceOption | CountedReferenceOption | ChoiceOption | MultipleOption | StringOption
    | IdealOption | AbilityBonusOption | ScorePrerequisiteOption | BreathOption | DamageOption
    | ActionOption,
    Field(discriminator="option_type"),
]


class OptionsArray(Part):
    """Options are tagged objects, except a few lists of bare strings (the ranger's
    favored enemy and terrain types), which the data README does not mention."""

    option_set_type: Literal["options_array"]
    options: list[Option] | list[str]


class EquipmentCategorySet(Part):
    option_set_type: Literal["equipment_category"]
    equipment_category: Reference


class ResourceListSet(Part):
    option_set_type: Literal["resource_list"]
    resource_list_url: str


OptionSet = Annotated[
    OptionsArray | EquipmentCategorySet | ResourceListSet,
    Field(discriminator="option_set_type"),
]


class Choice(Part):
    """Pick `choose` of the options in `from` (`from` is a Python keyword, hence the alias)."""

    desc: str | None = None
    choose: int
    type: str
    from_: OptionSet = Field(alias="from")
