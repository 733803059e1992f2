"""A problem found while validating a pack: where (file, entry, field) and what."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

_PLAIN_KEY = re.compile(r'^[^.\s"]+$')


def path_part(part: int | str) -> str:
    """One step of a field path; a key that would make the dotted path ambiguous is quoted."""
    if isinstance(part, int) or _PLAIN_KEY.match(part):
        return str(part)
    return json.dumps(part, ensure_ascii=False)


def field_path(loc: Sequence[int | str]) -> str:
    """`components.0`, `from.options.2.item`, `"odd key".x`; `-` for the whole entry."""
    return ".".join(path_part(part) for part in loc) or "-"


@dataclass(frozen=True, slots=True)
class ContentProblem:
    """One thing wrong with a pack.

    `entry` is the entry's `index`, or `#<position>` (0-based) when it has none;
    `-` when the problem is about the whole file. `field` is a dotted path
    (`components.0`, `from.options.2.item`), `-` when not about one field.
    """

    file: str
    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file} [{self.entry}] {self.field}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)
