"""`GenericEntry`: how an entry without a typed model is read.

Any type other than the 25 SRD types of the 2014 edition (a homebrew `poisons`
file, a 2024 `species` file), and an entry of another edition that does not fit
its type's typed model, is kept as index, name, url, prose and its full JSON.
A module of its own (exported by `questlog.content.types` on first use) so that
reading one typed entry never builds this model, and the type registry stays
plain Python for the content projector.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

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
