"""Content references: `{type, index}` next to the display name, or homebrew free text.

Events store the reference *and* the name, so replaying a log never depends on
re-resolving a name against content that may have changed since.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

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
