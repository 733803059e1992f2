"""Models of equipment and magic items.

Irregularities kept honest: equipment carries optional field groups by
category (weapons, armour, gear, tools, mounts and vehicles, packs); weights
and vehicle speeds are int or float; magic item rarity includes "Varies" and
attunement is only recorded in the first paragraph of `desc`.
"""

from .base import Entry, Part, Reference
from .parts import Cost, DamageRoll


class WeaponRange(Part):
    normal: int
    long: int | None = None


class ArmorClassSpec(Part):
    base: int
    dex_bonus: bool
    max_bonus: int | None = None


class PackItem(Part):
    item: Reference
    quantity: int


class VehicleSpeed(Part):
    quantity: float
    unit: str


class Equipment(Entry):
    equipment_category: Reference
    cost: Cost
    weight: float | None = None
    desc: list[str] | None = None
    special: list[str] | None = None
    image: str | None = None
    quantity: int | None = None
    # weapons
    weapon_category: str | None = None
    weapon_range: str | None = None
    category_range: str | None = None
    damage: DamageRoll | None = None
    two_handed_damage: DamageRoll | None = None
    range: WeaponRange | None = None
    throw_range: WeaponRange | None = None
    properties: list[Reference] | None = None
    # armour
    armor_category: str | None = None
    armor_class: ArmorClassSpec | None = None
    str_minimum: int | None = None
    stealth_disadvantage: bool | None = None
    # gear, tools, mounts and vehicles, packs
    gear_category: Reference | None = None
    tool_category: str | None = None
    vehicle_category: str | None = None
    speed: VehicleSpeed | None = None
    capacity: str | None = None
    contents: list[PackItem] | None = None


class Rarity(Part):
    name: str


class MagicItem(Entry):
    equipment_category: Reference
    rarity: Rarity
    variants: list[Reference]
    variant: bool
    desc: list[str]
    image: str | None = None
