"""Content references: `{type, index}` next to the display name, or homebrew free text.

Events store the reference *and* the name, so replaying a log never depends on
re-resolving a name against content that may have changed since.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

#: The 15 condition indexes of the SRD 5.1 (5e-database `conditions`). Used by
#: the v1→v2 ConditionApplied upcaster, which must be pure (no content lookup).
SRD_CONDITIONS: frozenset[str] = frozenset({
    "blinded", "charmed", "deafened", "frightened", "grappled", "incapacitated", "invisible",
    "paralyzed", "petrified", "poisoned", "prone", "restrained", "stunned", "unconscious",
    "exhaustion",
})

#: Conditions that stop a combatant from acting (its turn is skipped).
INCAPACITATING: frozenset[str] = frozenset({
    "incapacitated", "unconscious", "stunned", "paralyzed", "petrified", "defeated",
})

Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]

_SLUG_DROP = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    """'Hold Person' -> 'hold-person' (the 5e-database index convention)."""
    return _SLUG_DROP.sub("-", name.strip().lower()).strip("-") or "unnamed"


class ContentRef(BaseModel):
    """A reference to a content entry (`type`, `index`) with its display `name`.

    `homebrew=True` marks AI-invented or table-made things: they are never
    checked against content, and `index` is then just a slug of the name.
    Decision: `index` is always present (a slug for homebrew) so that state can
    key conditions and items by it; `pack` is filled when the command resolved
    the reference against a specific pack (informational only).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z-]{1,40}$")]
    index: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    name: Text
    homebrew: bool = False
    pack: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _fill(cls, value: object) -> object:
        # Accept {type, name} alone for homebrew text: the index is the name's slug.
        if isinstance(value, dict):
            value = dict(value)
            if not value.get("index") and value.get("name"):
                value["index"] = slugify(str(value["name"]))
            if not value.get("name") and value.get("index"):
                value["name"] = str(value["index"]).replace("-", " ").title()
        return value


def condition_ref(index_or_name: str, *, homebrew: bool | None = None) -> ContentRef:
    """A condition reference from a bare name or index; SRD conditions are not homebrew."""
    index = slugify(index_or_name)
    if homebrew is None:
        homebrew = index not in SRD_CONDITIONS
    return ContentRef(type="conditions", index=index,
                      name=index_or_name.strip().replace("-", " ").title(), homebrew=homebrew)


# --- the accepted forms of a reference (commands and recorded events alike) ---------------

def display_name(text: str) -> str:
    """A display name from a bare index ('hold-person' → 'Hold Person') or a name (as is)."""
    return text.replace("-", " ").title() if text == slugify(text) else text


def coerce_ref(value: Any, type_: str, *, condition: bool = False) -> Any:
    """A content ref from `{type, index, name}` (type filled in, 5e-database's `url`
    dropped), a bare index or a name: the one rule for every reference field.

    `condition=True` is the rule of recorded conditions (the ConditionApplied v1
    upcaster): an SRD condition is a ref, any other name a homebrew ref. Other values
    pass through, so that the model's validation reports them.
    """
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if condition:
            return condition_ref(text).model_dump(mode="json")
        return {"type": type_, "index": slugify(text), "name": display_name(text)}
    if isinstance(value, dict):
        out = {k: v for k, v in value.items() if k != "url"}
        if not out.get("type"):
            out["type"] = type_
        if condition and "homebrew" not in out:
            index = out.get("index") or out.get("name")
            if isinstance(index, str):
                out["homebrew"] = slugify(index) not in SRD_CONDITIONS
        return out
    return value


class RefObject(BaseModel):
    """A content reference written as an object (the JSON Schema of its accepted input)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "anyOf": [{"required": ["index"]}, {"required": ["name"]}]})

    type: str | None = Field(default=None, pattern=r"^[a-z][a-z-]{1,40}$", description=(
        "content type (races, classes, spells, monsters, ...); default: the field's type"))
    index: str | None = Field(default=None, min_length=1, max_length=100,
                              description="the entry's index; default: the slug of `name`")
    name: str | None = Field(default=None, min_length=1, max_length=200,
                             description="display name; default: from `index`")
    homebrew: bool = Field(default=False, description=(
        "true for invented things: never checked against content"))
    pack: str | None = None
    url: str | None = Field(default=None, description="ignored (5e-database's link)")


def ref_of(type_: str) -> BeforeValidator:
    """Metadata of a reference field of `type_`: accepts a bare index, a name or an object."""
    coerce: Callable[[Any], Any] = lambda value: coerce_ref(value, type_)  # noqa: E731
    text = Annotated[str, StringConstraints(min_length=1, max_length=200), Field(
        description=f"a {type_} index or name")]
    return BeforeValidator(coerce, json_schema_input_type=text | RefObject)


RaceRef = Annotated[ContentRef, ref_of("races")]
SubraceRef = Annotated[ContentRef, ref_of("subraces")]
ClassRef = Annotated[ContentRef, ref_of("classes")]
SubclassRef = Annotated[ContentRef, ref_of("subclasses")]
BackgroundRef = Annotated[ContentRef, ref_of("backgrounds")]
AlignmentRef = Annotated[ContentRef, ref_of("alignments")]
SpellRef = Annotated[ContentRef, ref_of("spells")]
FeatureRef = Annotated[ContentRef, ref_of("features")]
EquipmentRef = Annotated[ContentRef, ref_of("equipment")]
MonsterRef = Annotated[ContentRef, ref_of("monsters")]
#: A condition in a command: a bare name or index is `conditions/<slug>`, checked against
#: content like any ref (mark it homebrew, as an object, for invented conditions).
ConditionRef = Annotated[ContentRef, ref_of("conditions")]
