"""Which model an entry of a given type and edition is read with.

The 25 SRD types of the 2014 edition have typed models; any other type (a
homebrew `poisons` file, a 2024 `species` file) is a `GenericEntry`. Model
modules are imported only when a type of theirs is used, so a lookup of one
spell never builds the monster schema.
"""

from __future__ import annotations

import importlib
import re
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

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


PROSE_KEYS: Final = ("desc", "description", "higher_level", "material", "special")


def prose_of(data: dict[str, Any]) -> str:
    """The entry's descriptive text: top-level desc/description-like fields, joined."""
    parts: list[str] = []
    for key in PROSE_KEYS:
        value = data.get(key)
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(v for v in value if isinstance(v, str))
    return "\n\n".join(p for p in parts if p)


class GenericEntry(BaseModel):
    """An entry of a type (or edition) without a typed model: index, name, prose, full JSON."""

    model_config = ConfigDict(frozen=True)

    type: str
    index: str
    name: str | None = None
    url: str | None = None
    prose: str = ""
    data: dict[str, Any] = Field(default_factory=dict)

    _resolved: dict[str, BaseModel] = PrivateAttr(default_factory=dict)

    @property
    def resolved(self) -> dict[str, BaseModel]:
        return self._resolved

    @classmethod
    def from_data(cls, type_name: str, data: dict[str, Any]) -> GenericEntry:
        name = data.get("name")
        url = data.get("url")
        return cls(
            type=type_name,
            index=str(data.get("index", "")),
            name=name if isinstance(name, str) else None,
            url=url if isinstance(url, str) else None,
            prose=prose_of(data),
            data=data,
        )
