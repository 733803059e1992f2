"""The spell model.

Irregularities kept honest: damage is keyed by numeric strings ("1".."20", per
slot or character level) and lacks `damage_type` twice; `range`, `duration`
and `casting_time` are display strings; `desc` and `higher_level` are lists of
Markdown paragraphs.
"""

from typing import Literal

from pydantic import Field

from .base import AreaOfEffect, Entry, Part, Reference


class SpellDC(Part):
    dc_type: Reference
    dc_success: str
    desc: str | None = None


class SpellDamage(Part):
    damage_type: Reference | None = None
    damage_at_slot_level: dict[str, str] | None = None
    damage_at_character_level: dict[str, str] | None = None


class Spell(Entry):
    desc: list[str]
    higher_level: list[str] | None = None
    range: str
    components: list[Literal["V", "S", "M"]]
    material: str | None = None
    ritual: bool
    duration: str
    concentration: bool
    casting_time: str
    level: int = Field(ge=0, le=9)
    attack_type: str | None = None
    damage: SpellDamage | None = None
    dc: SpellDC | None = None
    heal_at_slot_level: dict[str, str] | None = None
    area_of_effect: AreaOfEffect | None = None
    school: Reference
    classes: list[Reference]
    subclasses: list[Reference]
