"""Helpers of the content tests: stores, pack directories, sample entries."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from questlog.projections.content_catalog import ContentCatalog

from questlog import Store

REPO = Path(__file__).resolve().parents[2]
STARTER = REPO / "data" / "packs" / "starter"


def open_store(path: Path) -> Store:
    """A store with only the content projector: other areas' projectors stay out of the way."""
    return Store.open(path, projectors=[ContentCatalog()])


def edit_json(path: Path, fn: Callable[[list[dict[str, Any]]], object]) -> None:
    """Load a JSON array file, let fn change it in place, write it back."""
    entries = json.loads(path.read_text("utf-8"))
    fn(entries)
    path.write_text(json.dumps(entries, ensure_ascii=False), "utf-8")


def write_pack(root: Path, files: dict[str, Any], manifest: dict[str, Any] | None = None) -> Path:
    """A pack directory from {file name: JSON value or raw text} and an optional manifest."""
    root.mkdir(parents=True, exist_ok=True)
    if manifest is not None:
        (root / "questlog-pack.json").write_text(json.dumps(manifest), "utf-8")
    for name, content in files.items():
        text = content if isinstance(content, str) else json.dumps(content)
        (root / name).write_text(text, "utf-8")
    return root


def spell(index: str, name: str, **overrides: Any) -> dict[str, Any]:
    """A minimal valid 2014 spell entry."""
    entry: dict[str, Any] = {
        "index": index, "name": name, "desc": [f"{name} does a thing."], "range": "Self",
        "components": ["V"], "ritual": False, "duration": "Instantaneous",
        "concentration": False, "casting_time": "1 action", "level": 1,
        "school": {"index": "evocation", "name": "Evocation",
                   "url": "/api/2014/magic-schools/evocation"},
        "classes": [{"index": "wizard", "name": "Wizard", "url": "/api/2014/classes/wizard"}],
        "subclasses": [], "url": f"/api/2014/spells/{index}",
    }
    entry.update(overrides)
    return entry
