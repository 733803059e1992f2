"""Cross references between entries: finding them in entry JSON and resolving them.

A reference is any nested object with a string `url` under `/api/` (the
`{index, name, url}` objects, and monster spell lists that carry no index).
Targets are found by full url first (levels and other nested urls are not
`<type>/<index>`), then by the `<type>/<index>` tail of a plain url, so a pack
whose entries lack urls still resolves.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Target = tuple[str, str]  # (type, index)


def iter_references(data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(path, url) of every reference nested in an entry (not the entry's own url)."""
    stack: list[tuple[str, Any]] = [(key, value) for key, value in data.items() if key != "url"]
    stack.reverse()
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            url = value.get("url")
            if isinstance(url, str) and url.startswith("/api/"):
                yield path, url
            children = [(f"{path}.{k}", v) for k, v in value.items() if k != "url"]
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{path}.{n}", v) for n, v in enumerate(value)]))


def target_of(url: str) -> Target | None:
    """(type, index) of a plain `/api/<edition>/<type>/<index>` url, else None."""
    parts = url.strip("/").split("/")
    if len(parts) == 4 and parts[0] == "api":
        return parts[2], parts[3]
    return None
