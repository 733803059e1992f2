"""Where a pack's entries come from: a directory of JSON files, with or without a manifest.

Two layouts are accepted:

* a 5e-database directory of `5e-SRD-<Type>.json` files (`5e-SRD-Magic-Items.json`
  holds type `magic-items`: the part after `5e-SRD-`, lower-cased);
* a pack directory with a manifest `questlog-pack.json`
  (`{name, version, priority, license, source, edition}`) next to its JSON files,
  named either `5e-SRD-<Type>.json` or `<type>.json`.

Licence and read-me files (`LICENSE*`, `README*`, `*.md`, `*.txt`) and hidden
files are ignored; any other file is reported as an unknown file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ContentPackNotFound
from .problems import ContentProblem, field_path
from .types import DEFAULT_EDITION, TYPE_NAME_RE

MANIFEST_NAME: Final = "questlog-pack.json"
SRD_PREFIX: Final = "5e-SRD-"
PACK_NAME_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_IGNORED_RE: Final = re.compile(r"^(LICEN[CS]E.*|README.*|.*\.md|.*\.txt)$", re.IGNORECASE)


class PackManifest(BaseModel):
    """The manifest of a pack directory (every field optional; CLI options override)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = Field(default=None, pattern=PACK_NAME_RE.pattern)
    version: str = "0"
    priority: int = 0
    license: str = ""
    source: str = ""
    edition: str = DEFAULT_EDITION


@dataclass(frozen=True)
class TypeFile:
    """One JSON file of a pack and the entity type it holds."""

    type: str
    path: Path


@dataclass
class PackSource:
    """A pack directory read from disk: manifest, type files, and what was wrong."""

    root: Path
    manifest: PackManifest
    has_manifest: bool
    files: list[TypeFile] = field(default_factory=list)
    problems: list[ContentProblem] = field(default_factory=list)


def bundled_pack() -> Path:
    """The starter pack shipped with questlog (`data/packs/starter`).

    Looked up as the `questlog.data` package when installed from a wheel, else in
    the source checkout next to `src/`.
    """
    try:
        import importlib.resources

        installed = Path(str(importlib.resources.files("questlog.data"))) / "packs" / "starter"
        if installed.is_dir():
            return installed
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[3] / "data" / "packs" / "starter"


def type_of_file(name: str) -> str | None:
    """The entity type a file name holds, or None if it is not a type file."""
    if not name.endswith(".json") or name == MANIFEST_NAME:
        return None
    stem = name[: -len(".json")]
    if stem.startswith(SRD_PREFIX):
        stem = stem[len(SRD_PREFIX):]
    type_name = stem.lower()
    return type_name if TYPE_NAME_RE.fullmatch(type_name) else None


def _read_manifest(path: Path, problems: list[ContentProblem]) -> PackManifest:
    try:
        raw = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(ContentProblem(MANIFEST_NAME, "-", "-", f"malformed JSON: {exc}"))
        return PackManifest()
    if not isinstance(raw, dict):
        problems.append(ContentProblem(MANIFEST_NAME, "-", "-", "the manifest must be an object"))
        return PackManifest()
    try:
        return PackManifest.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            problems.append(ContentProblem(MANIFEST_NAME, "-", field_path(err["loc"]),
                                           err["msg"]))
        return PackManifest()


def read_source(path: str | Path) -> PackSource:
    """List a pack directory's type files and read its manifest (entries are not parsed)."""
    root = Path(path)
    if not root.is_dir():
        raise ContentPackNotFound(f"content pack directory not found: {root}")
    problems: list[ContentProblem] = []
    manifest_path = root / MANIFEST_NAME
    has_manifest = manifest_path.is_file()
    manifest = _read_manifest(manifest_path, problems) if has_manifest else PackManifest()
    files: list[TypeFile] = []
    for child in sorted(root.iterdir()):
        name = child.name
        if name.startswith(".") or name == MANIFEST_NAME or _IGNORED_RE.fullmatch(name):
            continue
        type_name = type_of_file(name) if child.is_file() else None
        if type_name is None:
            problems.append(ContentProblem(
                name, "-", "-",
                "unknown file: expected 5e-SRD-<Type>.json or <type>.json "
                f"(type: lowercase letters, digits and '-'), or {MANIFEST_NAME}",
            ))
            continue
        files.append(TypeFile(type_name, child))
    if not files and not problems:
        problems.append(ContentProblem("-", "-", "-", f"no content files in {root}"))
    return PackSource(root, manifest, has_manifest, files, problems)


def load_entries(type_file: TypeFile, problems: list[ContentProblem]) -> list[Any] | None:
    """The JSON array of one type file, or None (with a problem) when it cannot be read."""
    name = type_file.path.name
    try:
        raw = json.loads(type_file.path.read_bytes())
    except UnicodeDecodeError as exc:
        problems.append(ContentProblem(name, "-", "-", f"malformed JSON: not UTF-8 ({exc})"))
        return None
    except json.JSONDecodeError as exc:
        problems.append(ContentProblem(
            name, "-", "-", f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
        ))
        return None
    except OSError as exc:
        problems.append(ContentProblem(name, "-", "-", f"cannot read: {exc}"))
        return None
    if not isinstance(raw, list):
        problems.append(ContentProblem(
            name, "-", "-", f"expected a JSON array of entries, found {type(raw).__name__}",
        ))
        return None
    return raw
