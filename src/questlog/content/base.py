"""The building blocks every content model shares: base classes, references, choices.

The 5e-database JSON shape links entries with reference objects
`{index, name, url}`, modelled once here; the recursive choice shape lives in
`choices`.

Models build their pydantic schema lazily (`defer_build`) so a process that
looks up one spell never pays for building the monster or class schemas. The model
modules do without `from __future__ import annotations`: pydantic would evaluate each
string annotation again (a compile per field, on a cold `content get` too).
"""

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


class ContentModel(BaseModel):
    """Base of the typed entry models: strict types, unknown keys refused.

    `strict` means a string is never silently turned into a number; `forbid`
    means a misspelt key is reported instead of dropped.
    """

    model_config = ConfigDict(
        strict=True, extra="forbid", frozen=True, populate_by_name=True, defer_build=True,
    )


class Part(ContentModel):
    """A nested object of an entry (same strictness as entries)."""


class TopLevel(ContentModel):
    """What every top-level entry model has beyond its fields: the resolved references.

    Kept off nested parts on purpose: a private attribute costs an init hook on every
    instance, and the SRD has ~36,000 nested objects.
    """

    # Referenced entities filled by `ContentAPI.get(..., resolve=True)`, keyed by url.
    _resolved: dict[str, BaseModel] = PrivateAttr(default_factory=dict)

    @property
    def resolved(self) -> dict[str, BaseModel]:
        """Entities this entry references, by url (empty unless fetched with resolve=True)."""
        return self._resolved


class Entry(TopLevel):
    """A top-level entry: every entity type has an index, a name and a url."""

    index: str = Field(min_length=1)
    name: str
    url: str


class Reference(Part):
    """A link to another entry; the target type is only visible in the url."""

    index: str
    name: str
    url: str


class AreaOfEffect(Part):
    type: str
    size: int
