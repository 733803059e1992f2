"""The few 5e (SRD 5.1) rules the commands and the folds need: hit dice, spell slots, XP,
rests, instant death.

Kept in code rather than looked up in content because the fold and the
commands must be deterministic and fast; homebrew classes fall back to a d8
and no spell slots unless the command states them.
"""

from __future__ import annotations

import re
from typing import Any

HIT_DIE: dict[str, int] = {
    "barbarian": 12, "fighter": 10, "paladin": 10, "ranger": 10, "bard": 8, "cleric": 8,
    "druid": 8, "monk": 8, "rogue": 8, "warlock": 8, "sorcerer": 6, "wizard": 6,
}
FULL_CASTERS = frozenset({"bard", "cleric", "druid", "sorcerer", "wizard"})
HALF_CASTERS = frozenset({"paladin", "ranger"})

# Slots per slot level (1..9) for a full caster of each character level.
_FULL: tuple[tuple[int, ...], ...] = (
    (2,), (3,), (4, 2), (4, 3), (4, 3, 2), (4, 3, 3), (4, 3, 3, 1), (4, 3, 3, 2),
    (4, 3, 3, 3, 1), (4, 3, 3, 3, 2), (4, 3, 3, 3, 2, 1), (4, 3, 3, 3, 2, 1),
    (4, 3, 3, 3, 2, 1, 1), (4, 3, 3, 3, 2, 1, 1), (4, 3, 3, 3, 2, 1, 1, 1),
    (4, 3, 3, 3, 2, 1, 1, 1), (4, 3, 3, 3, 2, 1, 1, 1, 1), (4, 3, 3, 3, 3, 1, 1, 1, 1),
    (4, 3, 3, 3, 3, 2, 1, 1, 1), (4, 3, 3, 3, 3, 2, 2, 1, 1),
)

XP_THRESHOLDS: tuple[int, ...] = (
    0, 300, 900, 2700, 6500, 14000, 23000, 34000, 48000, 64000, 85000, 100000, 120000,
    140000, 165000, 195000, 225000, 265000, 305000, 355000,
)
MAX_LEVEL = 20
MAX_EXHAUSTION = 6


def hit_die(class_index: str | None) -> int:
    return HIT_DIE.get(class_index or "", 8)


def ability_modifier(score: int) -> int:
    return (score - 10) // 2


def spell_slots(class_index: str | None, level: int) -> dict[str, int]:
    """Maximum slots per slot level ("1".."9") for an SRD class at a character level."""
    cls = class_index or ""
    if cls in FULL_CASTERS:
        row = _FULL[level - 1]
    elif cls in HALF_CASTERS:
        row = _FULL[(level + 1) // 2 - 1] if level >= 2 else ()
    elif cls == "warlock":
        count = 1 if level == 1 else 2 if level <= 10 else 3 if level <= 16 else 4
        slot_level = min(5, (level + 1) // 2)
        return {str(slot_level): count}
    else:
        row = ()
    return {str(i + 1): n for i, n in enumerate(row)}


def short_rest_restores_slots(class_index: str | None) -> bool:
    """Warlocks regain their pact slots on a short rest; everyone else on a long rest."""
    return class_index == "warlock"


def xp_for_level(level: int) -> int:
    return XP_THRESHOLDS[min(level, MAX_LEVEL) - 1]


def average_hp_gain(class_index: str | None, con_score: int) -> int:
    """The fixed hit-point gain per level (half the die + 1, plus CON), at least 1."""
    return max(1, hit_die(class_index) // 2 + 1 + ability_modifier(con_score))


def long_rest_hit_dice_regained(level: int) -> int:
    """A long rest gives back spent hit dice up to half the character's total (min 1)."""
    return max(1, level // 2)


def killed_outright(damage_left: int, max_hp: int) -> bool:
    """Massive damage: damage that remains once hit points reach 0 kills at once when it
    equals or exceeds the hit point maximum (also when already at 0 hit points)."""
    return damage_left > 0 and damage_left >= max_hp


def monster_combatant(entry: dict[str, Any]) -> dict[str, Any]:
    """Combatant fields from an SRD monster entry: AC, HP, ability scores (as `stats`),
    the DEX initiative modifier, attacks (actions with an attack bonus), resistances,
    vulnerabilities and condition immunities. A command's own values win over these."""
    scores = {short: entry[full] for short, full in ABILITY_NAMES.items()
              if isinstance(entry.get(full), int)}
    fields: dict[str, Any] = {"stats": scores or None}
    armor = entry.get("armor_class") or []
    if armor and isinstance(armor[0], dict) and isinstance(armor[0].get("value"), int):
        fields["ac"] = armor[0]["value"]
    if isinstance(entry.get("hit_points"), int):
        fields["hp"] = fields["max_hp"] = entry["hit_points"]
    if "dex" in scores:
        fields["initiative_modifier"] = ability_modifier(scores["dex"])
    fields["attacks"] = [_attack(a) for a in entry.get("actions") or []
                         if isinstance(a, dict) and a.get("attack_bonus") is not None]
    fields["resistances"] = list(entry.get("damage_resistances") or [])
    fields["vulnerabilities"] = list(entry.get("damage_vulnerabilities") or [])
    fields["condition_immunities"] = [c["index"] for c in entry.get("condition_immunities") or []
                                      if isinstance(c, dict) and "index" in c]
    return fields


ABILITY_NAMES = {"str": "strength", "dex": "dexterity", "con": "constitution",
                 "int": "intelligence", "wis": "wisdom", "cha": "charisma"}


def _attack(action: dict[str, Any]) -> dict[str, Any]:
    desc = str(action.get("desc") or "")
    kind = ("spell" if "Spell Attack" in desc else "ranged" if desc.startswith("Ranged")
            else "melee")
    rolls = [d for d in action.get("damage") or [] if isinstance(d, dict) and "damage_dice" in d]
    first = rolls[0] if rolls else {}
    damage_type = first.get("damage_type")
    reach = re.search(r"\b((?:reach|range) [^,.]+(?:\.\s*ft)?)", desc)
    return {"name": action["name"], "description": desc, "kind": kind,
            "reach_or_range": reach.group(1) if reach else None,
            "to_hit": action["attack_bonus"], "damage": first.get("damage_dice"),
            "damage_type": damage_type.get("index") if isinstance(damage_type, dict) else None}
