"""Models of character options: classes, subclasses, features, levels, races, traits.

Irregular parts kept honest: the Python keyword `class` is aliased; level
`class_specific` / `subclass_specific` hold per-class structures (kept as
mappings); feature prerequisites are tagged by `type`; `Classes.class_levels`,
`Classes.spells`, `Subclasses.subclass_levels` and `Features.reference` are
upstream API routes kept as opaque strings; levels have no name in 2014.
"""

from typing import Any, Literal

from pydantic import Field

from .base import AreaOfEffect, Entry, Part, Reference, TopLevel
from .choices import Choice
from .parts import AbilityBonus, ScorePrerequisite, StartingEquipment, Usage


class SpellcastingInfo(Part):
    name: str
    desc: list[str]


class ClassSpellcasting(Part):
    level: int
    spellcasting_ability: Reference
    info: list[SpellcastingInfo]


class MultiClassing(Part):
    prerequisites: list[ScorePrerequisite] | None = None
    prerequisite_options: Choice | None = None
    proficiencies: list[Reference] = Field(default_factory=list)
    proficiency_choices: list[Choice] | None = None


class CharacterClass(Entry):
    hit_die: int
    proficiency_choices: list[Choice]
    proficiencies: list[Reference]
    saving_throws: list[Reference]
    starting_equipment: list[StartingEquipment]
    starting_equipment_options: list[Choice]
    class_levels: str
    multi_classing: MultiClassing
    subclasses: list[Reference]
    spellcasting: ClassSpellcasting | None = None
    spells: str | None = None


class LevelPrerequisite(Part):
    """A subclass spell's prerequisite: its index (`cleric-1`) differs from its url tail."""

    index: str
    name: str
    type: str
    url: str


class SubclassSpell(Part):
    prerequisites: list[LevelPrerequisite]
    spell: Reference


class Subclass(Entry):
    class_: Reference = Field(alias="class")
    subclass_flavor: str
    desc: list[str]
    subclass_levels: str
    spells: list[SubclassSpell] | None = None


class FeaturePrerequisite(Part):
    type: Literal["level", "feature", "spell"]
    level: int | None = None
    feature: str | None = None  # a url
    spell: str | None = None  # a url


class FeatureSpecific(Part):
    subfeature_options: Choice | None = None
    expertise_options: Choice | None = None
    enemy_type_options: Choice | None = None
    terrain_type_options: Choice | None = None
    invocations: list[Reference] | None = None


class Feature(Entry):
    class_: Reference = Field(alias="class")
    subclass: Reference | None = None
    level: int
    prerequisites: list[FeaturePrerequisite]
    desc: list[str]
    reference: str | None = None
    parent: Reference | None = None
    feature_specific: FeatureSpecific | None = None


class Level(TopLevel):
    """A class or subclass level. Not an `Entry`: levels have no name (2014)."""

    index: str = Field(min_length=1)
    url: str
    name: str | None = None
    level: int
    class_: Reference = Field(alias="class")
    subclass: Reference | None = None
    features: list[Reference]
    ability_score_bonuses: int | None = None
    prof_bonus: int | None = None
    # Keys differ per spellcasting class (four key sets) and per class.
    spellcasting: dict[str, int] | None = None
    class_specific: dict[str, Any] | None = None
    subclass_specific: dict[str, Any] | None = None


class Race(Entry):
    speed: int
    ability_bonuses: list[AbilityBonus]
    ability_bonus_options: Choice | None = None
    alignment: str
    age: str
    size: str
    size_description: str
    languages: list[Reference]
    language_options: Choice | None = None
    language_desc: str
    traits: list[Reference]
    subraces: list[Reference]


class Subrace(Entry):
    race: Reference
    desc: str
    ability_bonuses: list[AbilityBonus]
    racial_traits: list[Reference]


class BreathDC(Part):
    dc_type: Reference
    success_type: str


class BreathDamage(Part):
    damage_type: Reference
    damage_at_character_level: dict[str, str]


class BreathWeapon(Part):
    name: str
    desc: str
    area_of_effect: AreaOfEffect
    usage: Usage
    dc: BreathDC
    damage: list[BreathDamage]


class TraitSpecific(Part):
    spell_options: Choice | None = None
    subtrait_options: Choice | None = None
    breath_weapon: BreathWeapon | None = None
    damage_type: Reference | None = None


class Trait(Entry):
    races: list[Reference]
    subraces: list[Reference]
    desc: list[str]
    proficiencies: list[Reference]
    proficiency_choices: Choice | None = None
    language_options: Choice | None = None
    trait_specific: TraitSpecific | None = None
    parent: Reference | None = None
