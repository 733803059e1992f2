"""The monster model: the most irregular type of the SRD.

Kept honest: armour class is a list of tagged entries; speed values are
strings with units plus a `hover` flag; senses mix strings with an int
passive perception; damage vulnerabilities/resistances/immunities are free
text while condition immunities are references; challenge rating is int or
float (1/8, 1/4, 1/2); actions come in many key combinations (attack, save,
multiattack, limited use) and their damage items are either rolls or choices;
multiattack counts are ints except twice ("Number of Heads", "1d4"); spell
lists inside spellcasting carry no `index`.
"""

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from .base import Entry, Part, Reference
from .choices import Choice
from .parts import DamageRoll, SavingThrowDC, Usage


class MonsterArmorClass(Part):
    type: Literal["dex", "natural", "armor", "spell", "condition"]
    value: int
    armor: list[Reference] | None = None
    spell: Reference | None = None
    condition: Reference | None = None
    desc: str | None = None


class MonsterSpeed(Part):
    walk: str | None = None
    swim: str | None = None
    fly: str | None = None
    burrow: str | None = None
    climb: str | None = None
    hover: bool | None = None


class Senses(Part):
    passive_perception: int
    blindsight: str | None = None
    darkvision: str | None = None
    tremorsense: str | None = None
    truesight: str | None = None


class MonsterProficiency(Part):
    value: int
    proficiency: Reference


class ActionDamage(DamageRoll):
    dc: SavingThrowDC | None = None


def _damage_kind(value: Any) -> str:
    # Called on raw JSON when validating and on model instances when serializing.
    if isinstance(value, dict):
        return "choice" if "choose" in value else "roll"
    return "choice" if isinstance(value, Choice) else "roll"


DamageItem = Annotated[
    Annotated[ActionDamage, Tag("roll")] | Annotated[Choice, Tag("choice")],
    Discriminator(_damage_kind),
]


class MultiattackItem(Part):
    action_name: str
    count: int | str  # "Number of Heads" (hydra), "1d4" (violet fungus)
    type: str


class NamedSave(Part):
    """One of several saves an action forces (the androsphinx's three roars)."""

    name: str
    dc: SavingThrowDC
    damage: list[DamageRoll] | None = None


class MonsterSpell(Part):
    """A spell in a monster's list: a reference without `index`."""

    name: str
    level: int
    url: str
    usage: Usage | None = None
    notes: str | None = None


class MonsterSpellcasting(Part):
    ability: Reference
    dc: int | None = None
    modifier: int | None = None
    components_required: list[str]
    school: str | None = None
    level: int | None = None
    slots: dict[str, int] | None = None
    spells: list[MonsterSpell]


class MonsterAbility(Part):
    """An action, special ability, legendary action or reaction."""

    name: str
    desc: str
    attack_bonus: int | None = None
    damage: list[DamageItem] | None = None
    dc: SavingThrowDC | None = None
    usage: Usage | None = None
    multiattack_type: str | None = None
    actions: list[MultiattackItem] | None = None
    action_options: Choice | None = None
    options: Choice | None = None
    attacks: list[NamedSave] | None = None
    spellcasting: MonsterSpellcasting | None = None


class Monster(Entry):
    desc: str | None = None
    size: str
    type: str
    subtype: str | None = None
    alignment: str
    armor_class: list[MonsterArmorClass]
    hit_points: int
    hit_dice: str
    hit_points_roll: str
    speed: MonsterSpeed
    strength: int
    dexterity: int
    constitution: int
    intelligence: int
    wisdom: int
    charisma: int
    proficiencies: list[MonsterProficiency]
    damage_vulnerabilities: list[str]
    damage_resistances: list[str]
    damage_immunities: list[str]
    condition_immunities: list[Reference]
    senses: Senses
    languages: str
    challenge_rating: float = Field(ge=0)
    proficiency_bonus: int
    xp: int
    image: str | None = None
    special_abilities: list[MonsterAbility] | None = None
    actions: list[MonsterAbility] | None = None
    legendary_actions: list[MonsterAbility] | None = None
    reactions: list[MonsterAbility] | None = None
    forms: list[Reference] | None = None
