"""Models of the small reference types: abilities, alignments, conditions, rules, ...

Their irregularity is mostly `desc`: a list of paragraphs in some types, one
string in others (alignments, languages, magic schools, rules, rule sections),
never varying within a type.
"""

from .base import Entry, Part, Reference
from .choices import Choice
from .parts import Cost, ScorePrerequisite, StartingEquipment


class AbilityScore(Entry):
    full_name: str
    desc: list[str]
    skills: list[Reference]


class Alignment(Entry):
    abbreviation: str
    desc: str


class BackgroundFeature(Part):
    name: str
    desc: list[str]


class Background(Entry):
    starting_proficiencies: list[Reference]
    language_options: Choice | None = None
    starting_equipment: list[StartingEquipment]
    starting_gold: Cost
    starting_equipment_options: list[Choice]
    feature: BackgroundFeature
    personality_traits: Choice
    ideals: Choice
    bonds: Choice
    flaws: Choice


class Condition(Entry):
    desc: list[str]


class DamageType(Entry):
    desc: list[str]


class EquipmentCategory(Entry):
    # Three categories mix equipment and magic-item references in one list.
    equipment: list[Reference]


class Feat(Entry):
    prerequisites: list[ScorePrerequisite]
    desc: list[str]


class Language(Entry):
    type: str
    typical_speakers: list[str]
    script: str | None = None
    desc: str | None = None


class MagicSchool(Entry):
    desc: str


class Proficiency(Entry):
    type: str
    classes: list[Reference]
    races: list[Reference]
    # Points at a different type depending on the proficiency (equipment, skills, ...).
    reference: Reference


class Rule(Entry):
    desc: str  # Markdown
    subsections: list[Reference]


class RuleSection(Entry):
    desc: str  # Markdown, often long


class Skill(Entry):
    desc: list[str]
    ability_score: Reference


class WeaponProperty(Entry):
    desc: list[str]
