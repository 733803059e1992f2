"""What the content API returns besides entries: import reports, packs, matches, checks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ImportReport(BaseModel):
    """The outcome of one `import_pack` (also of a dry run, which appends nothing)."""

    model_config = ConfigDict(frozen=True)

    pack: str
    version: str
    priority: int
    edition: str
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    invalid: int = 0
    registered: bool = False  # a ContentPackRegistered event was (or would be) appended
    events_appended: int = 0
    dry_run: bool = False
    stream_version: int = 0
    positions: list[int] = Field(default_factory=list, description="first and last position")
    by_type: dict[str, int] = Field(default_factory=dict, description="valid entries per type")
    problems: list[dict[str, str]] = Field(default_factory=list)
    warnings: list[dict[str, str]] = Field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def summary(self) -> str:
        what = "would change" if self.dry_run else "imported"
        return (f"{self.pack}: {what}: {self.added} added, {self.changed} changed, "
                f"{self.removed} removed, {self.unchanged} unchanged, {self.invalid} invalid "
                f"({self.events_appended} event(s){' not appended' if self.dry_run else ''})")


class PackInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    version: str
    priority: int
    edition: str
    license: str
    source: str
    entries: int
    effective: int = Field(description="entries of this pack that are the effective ones")
    last_import: dict[str, Any] | None = None


class ContentMatch(BaseModel):
    """One hit of a name lookup."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    type: str
    index: str
    name: str | None
    pack: str
    entity: BaseModel


class DanglingReference(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str
    index: str
    path: str
    url: str


class CheckReport(BaseModel):
    """Dangling references per pack (a reference whose target is not loaded)."""

    model_config = ConfigDict(frozen=True)

    references: int
    dangling: dict[str, list[DanglingReference]]

    @property
    def ok(self) -> bool:
        return not any(self.dangling.values())
