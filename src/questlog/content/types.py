"""Which model an entry of a given type and edition is read with.

The 25 SRD types of the 2014 edition have typed models; any other type (a
homebrew `poisons` file, a 2024 `species` file) is a `GenericEntry`. This module
is the registry of names, plain Python: the content projector imports it whenever a
store opens. Model modules are imported only when a type of theirs is used, and
their schemas are built on first use (`defer_build`), so a lookup of one spell
builds the spell model alone — not the monster schema, and not `GenericEntry`
(`questlog.content.generic`, exported here on first use).
"""

from __future__ import annotations

import importlib
import re
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .generic import PROSE_KEYS, GenericEntry, prose_of

__all__ = ["DEFAULT_EDITION", "PROSE_KEYS", "SRD_TYPES", "TYPED_EDITIONS", "TYPED_MODELS",
           "TYPE_NAME_RE", "GenericEntry", "prose_of", "typed_model"]

DEFAULT_EDITION: Final = "2014"

# type name (as in file names and urls) -> "module:Class" inside questlog.content
TYPED_MODELS: Final[dict[str, str]] = {
    "ability-scores": "models_rules:AbilityScore",
    "alignments": "models_rules:Alignment",
    "backgrounds": "models_rules:Background",
    "classes": "models_character:CharacterClass",
    "conditions": "models_rules:Condition",
    "damage-types": "models_rules:DamageType",
    "equipment": "models_items:Equipment",
    "equipment-categories": "models_rules:EquipmentCategory",
    "feats": "models_rules:Feat",
    "features": "models_character:Feature",
    "languages": "models_rules:Language",
    "levels": "models_character:Level",
    "magic-items": "models_items:MagicItem",
    "magic-schools": "models_rules:MagicSchool",
    "monsters": "models_monsters:Monster",
    "proficiencies": "models_rules:Proficiency",
    "races": "models_character:Race",
    "rule-sections": "models_rules:RuleSection",
    "rules": "models_rules:Rule",
    "skills": "models_rules:Skill",
    "spells": "models_spells:Spell",
    "subclasses": "models_character:Subclass",
    "subraces": "models_character:Subrace",
    "traits": "models_character:Trait",
    "weapon-properties": "models_rules:WeaponProperty",
}
SRD_TYPES: Final = tuple(sorted(TYPED_MODELS))

# Editions whose shapes the typed models describe. Entries of another edition
# use a typed model when they fit it and fall back to GenericEntry otherwise.
TYPED_EDITIONS: Final = frozenset({"2014"})

TYPE_NAME_RE: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")

_cache: dict[str, type[BaseModel]] = {}


def typed_model(type_name: str) -> type[BaseModel] | None:
    """The typed model class of an SRD type, or None for any other type."""
    target = TYPED_MODELS.get(type_name)
    if target is None:
        return None
    model = _cache.get(type_name)
    if model is None:
        module_name, attr = target.split(":")
        module = importlib.import_module(f"{__package__}.{module_name}")
        model = getattr(module, attr)
        _cache[type_name] = model
    return model


# Names defined in `generic` (pydantic), made attributes of this module when first asked for.
_GENERIC_NAMES: Final = frozenset({"GenericEntry", "PROSE_KEYS", "prose_of"})


def __getattr__(name: str) -> Any:
    if name in _GENERIC_NAMES:
        from . import generic

        value = getattr(generic, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
