"""Where a pack's entries come from: a directory of JSON files, with or without a manifest.

Two layouts are accepted:

* a 5e-database directory of `5e-SRD-<Type>.json` files (`5e-SRD-Magic-Items.json`
  holds type `magic-items`: the part after `5e-SRD-`, lower-cased);
* a pack directory with a manifest `questlog-pack.json`
  (`{name, version, priority, license, source, edition}`) next to its JSON files,
  named either `5e-SRD-<Type>.json` or `<type>.json`.

Licence and read-me files (`LICENSE*`, `README*`, `*.md`, `*.txt`) and hidden
files are ignored; any other file is reported as an unknown file.

A pack is untrusted input: a link leading outside the directory refuses the
whole pack, a file over the size limit is refused before it is read, and type
files are parsed one entry at a time (`stream_array`), so memory holds one entry
and a read chunk, never the whole file, and an oversized entry is refused as
soon as the limit is read (`ContentLimits`, from the settings).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ContentPackNotFound, UnsafeContentPack
from ..jsonlimits import DECODER, decode_error, loads
from ..settings import Settings, load_settings
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


@dataclass(frozen=True, slots=True)
class ContentLimits:
    """Size and nesting limits for reading a pack (from the settings)."""

    max_file_bytes: int
    max_entry_bytes: int
    max_depth: int  # of the event that carries an entry (the entry sits one level down)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> ContentLimits:
        s = settings if settings is not None else load_settings()
        return cls(s.content_max_file_bytes, s.content_max_entry_bytes, s.max_json_depth)


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


def _read_manifest(path: Path, problems: list[ContentProblem],
                   limits: ContentLimits) -> PackManifest:
    try:
        if path.stat().st_size > limits.max_entry_bytes:
            raise PackFileError(f"the manifest is larger than {limits.max_entry_bytes} bytes "
                                "(QUESTLOG_CONTENT_MAX_ENTRY_BYTES)")
        raw = loads(path.read_bytes())
    except (UnicodeDecodeError, ValueError, PackFileError) as exc:
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


def refuse_outside_links(root: Path) -> None:
    """Raise UnsafeContentPack when a link in the pack leads outside its directory.

    A pack is data someone handed over: a link to /etc/passwd or to another
    user's files must not be read (and reported back in problems) as content.
    """
    inside = root.resolve()
    for child in root.iterdir():
        if not child.is_symlink():
            continue
        target = child.resolve()
        if target != inside and not target.is_relative_to(inside):
            raise UnsafeContentPack(
                f"content pack {root}: {child.name} is a link to {target}, outside the pack "
                "directory; links may only point inside it")


def read_source(path: str | Path, limits: ContentLimits | None = None) -> PackSource:
    """List a pack directory's type files and read its manifest (entries are not parsed)."""
    root = Path(path)
    if not root.is_dir():
        raise ContentPackNotFound(f"content pack directory not found: {root}")
    refuse_outside_links(root)
    limits = limits or ContentLimits.from_settings()
    problems: list[ContentProblem] = []
    manifest_path = root / MANIFEST_NAME
    has_manifest = manifest_path.is_file()
    manifest = (_read_manifest(manifest_path, problems, limits) if has_manifest
                else PackManifest())
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


class PackFileError(Exception):
    """A type file that cannot be read as a JSON array of entries (the message says why)."""


def check_file_size(path: Path, limits: ContentLimits) -> None:
    """Refuse a file over the size limit before a byte of it is parsed."""
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise PackFileError(
            f"file is {size} bytes; the limit is {limits.max_file_bytes} "
            "(QUESTLOG_CONTENT_MAX_FILE_BYTES)")


def iter_entries(type_file: TypeFile, limits: ContentLimits) -> Iterator[Any]:
    """The entries of one type file, parsed one at a time (see `stream_array`).

    Raises PackFileError for a file that is too large, unreadable or malformed.
    """
    check_file_size(type_file.path, limits)
    try:
        with type_file.path.open("rb") as fh:
            yield from stream_array(fh, limits.max_entry_bytes)
    except UnicodeDecodeError as exc:
        raise PackFileError(f"malformed JSON: not UTF-8 ({exc})") from None
    except OSError as exc:
        raise PackFileError(f"cannot read: {exc}") from None


_WHITESPACE: Final = re.compile(r"[ \t\n\r]*")
_CHUNK_BYTES: Final = 1 << 16
# A value that ends (or fails) this close to the end of the text read so far is read
# again with more text: "12" may be the start of "123", an error may be a cut token.
_MARGIN: Final = 64


def stream_array(fh: BinaryIO, max_entry_bytes: int,
                 chunk_bytes: int = _CHUNK_BYTES) -> Iterator[Any]:
    """Parse a JSON array from a binary file one element at a time.

    Memory stays at one element plus a read chunk, whatever the file's size; an
    element larger than `max_entry_bytes` is refused as soon as that much of it
    has been read, before it is parsed. Numbers, constants and nesting follow
    `jsonlimits` (no infinity, no NaN, no integer past Python's digit limit).
    Raises PackFileError naming the line and column of what is wrong.
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    text = ""
    pos = 0
    eof = False
    lines_before = 0  # newlines in the text already dropped
    column_before = 0  # characters after the last dropped newline

    def more() -> bool:
        nonlocal text, pos, eof, lines_before, column_before
        if eof:
            return False
        dropped = text[:pos]
        newlines = dropped.count("\n")
        if newlines:
            lines_before += newlines
            column_before = len(dropped) - dropped.rindex("\n") - 1
        else:
            column_before += len(dropped)
        chunk = fh.read(chunk_bytes)
        eof = not chunk
        text = text[pos:] + decoder.decode(chunk, final=eof)
        pos = 0
        return True

    def where(at: int) -> str:
        line = lines_before + text.count("\n", 0, at) + 1
        last = text.rfind("\n", 0, at)
        column = at - last if last >= 0 else column_before + at + 1
        return f"line {line} column {column}"

    def skip_space() -> str:
        """The next significant character ('' at the end of the file)."""
        nonlocal pos
        while True:
            pos = _WHITESPACE.match(text, pos).end()  # type: ignore[union-attr]
            if pos < len(text):
                return text[pos]
            if not more():
                return ""

    def too_large(start: int, end: int, number: int) -> bool:
        # A character is 1-4 bytes in UTF-8: measure exactly only near the limit.
        if (end - start) * 4 <= max_entry_bytes:
            return False
        if len(text[start:end].encode("utf-8")) <= max_entry_bytes:
            return False
        raise PackFileError(f"entry #{number} is larger than {max_entry_bytes} bytes "
                            "(QUESTLOG_CONTENT_MAX_ENTRY_BYTES)")

    first = skip_space()
    if first != "[":
        # Say whether it is JSON at all, reading no more than one entry's worth.
        while not eof and len(text) - pos <= max_entry_bytes:
            more()
        try:
            found = type(loads(text[pos:])).__name__ if eof else "a value too large to show"
        except json.JSONDecodeError as exc:
            raise PackFileError(f"malformed JSON at {where(pos + exc.pos)}: {exc.msg}") from None
        except ValueError as exc:
            raise PackFileError(f"malformed JSON: {exc}") from None
        raise PackFileError(f"expected a JSON array of entries, found {found}")
    pos += 1
    number = 0
    if skip_space() == "]":
        pos += 1
    else:
        while True:
            skip_space()
            while True:
                try:
                    value, end = DECODER.raw_decode(text, pos)
                except json.JSONDecodeError as exc:
                    cut = exc.pos >= len(text) - _MARGIN or exc.msg.startswith("Unterminated")
                    if cut and not too_large(pos, len(text), number) and more():
                        continue
                    raise PackFileError(
                        f"malformed JSON at {where(exc.pos)}: {exc.msg}") from None
                except (ValueError, RecursionError) as exc:
                    mapped = decode_error(exc)
                    if mapped is None:
                        raise
                    raise PackFileError(f"entry #{number} ({where(pos)}): {mapped}") from None
                if end >= len(text) - _MARGIN and not eof:
                    if not too_large(pos, len(text), number):
                        more()
                    continue
                too_large(pos, end, number)
                break
            yield value
            number += 1
            pos = end
            after = skip_space()
            if after == ",":
                pos += 1
                continue
            if after == "]":
                pos += 1
                break
            raise PackFileError(f"malformed JSON at {where(pos)}: "
                                + ("unexpected end of file" if not after
                                   else "Expecting ',' delimiter"))
    if skip_space():
        raise PackFileError(f"malformed JSON at {where(pos)}: Extra data")
