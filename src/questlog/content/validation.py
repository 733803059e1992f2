"""Whole-pack validation: every problem collected, nothing raised half-way.

`validate_pack` reads a pack directory and checks every entry of every file
against its type's model, collecting each problem (file, entry, field,
message). Entries are kept as the JSON they came in (the typed model only
judges them), each with a content hash over its canonical JSON: the hash is
what decides on re-import whether an entry was added, changed or untouched.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ContentValidationError
from ..events import canonical_json
from ..jsonlimits import DEFAULT_MAX_JSON_DEPTH, encoding_problem, json_depth
from .problems import ContentProblem, field_path
from .source import (
    MANIFEST_NAME,
    PACK_NAME_RE,
    ContentLimits,
    PackFileError,
    TypeFile,
    iter_entries,
    read_source,
)
from .types import DEFAULT_EDITION, TYPED_EDITIONS, typed_model

Progress = Callable[[str, int, int], None]


def content_hash(data: dict[str, Any]) -> str:
    """SHA-256 of the entry's canonical JSON (sorted keys, no spaces, text kept as is)."""
    return _text_hash(canonical_json(data))


def _text_hash(canonical: str) -> str:
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class PackEntry:
    """A valid entry ready to import.

    Held as its canonical JSON text, not as the parsed dict: a pack of 600,000 entries
    is validated whole before anything is appended, and the text is several times
    smaller (the hash needed it anyway). `data` parses it again when asked.
    """

    type: str
    index: str
    canonical: str
    content_hash: str
    generic: bool  # stored without a typed model (unknown type, or another edition's shape)

    @property
    def data(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.canonical)
        return value


@dataclass
class ValidatedPack:
    """A pack read and checked: its identity, valid entries, problems and warnings."""

    root: Path
    name: str
    version: str
    priority: int | None  # None: not given (keep the registered one, else 0)
    edition: str
    license: str
    source: str
    entries: list[PackEntry] = field(default_factory=list)
    problems: list[ContentProblem] = field(default_factory=list)
    warnings: list[ContentProblem] = field(default_factory=list)
    types: dict[str, int] = field(default_factory=dict)  # entries seen per type, valid or not
    explicit_source: bool = False  # the manifest names its source (else: the directory)
    # What --skip-invalid must leave alone: entries that failed (by type and index) and
    # types whose file could not be read at all (their entries are not "gone").
    skipped_keys: set[tuple[str, str]] = field(default_factory=set)
    unreadable_types: set[str] = field(default_factory=set)
    invalid_entries: int = 0

    @property
    def identity_problems(self) -> list[ContentProblem]:
        """Problems no --skip-invalid can pass over: the pack's name or manifest."""
        return [p for p in self.problems if p.file in ("-", MANIFEST_NAME)]

    def raise_if_invalid(self) -> None:
        if self.problems:
            raise ContentValidationError(
                list(self.problems),
                f"content pack {self.name!r} has {len(self.problems)} problem(s); "
                "nothing was imported",
            )


def validate_entries(
    type_name: str,
    raw_entries: Iterable[Any],
    *,
    edition: str = DEFAULT_EDITION,
    file: str = "<entries>",
    problems: list[ContentProblem] | None = None,
    warnings: list[ContentProblem] | None = None,
    seen: dict[str, str] | None = None,
    max_depth: int = DEFAULT_MAX_JSON_DEPTH,
) -> list[PackEntry]:
    """Validate the entries of one type; append problems and warnings to the given lists.

    `seen` maps indexes already taken by this type (possibly from another file)
    to where they were, so duplicates across files are found too.
    """
    problems = problems if problems is not None else []
    warnings = warnings if warnings is not None else []
    seen = seen if seen is not None else {}
    model = typed_model(type_name)
    strict_edition = edition in TYPED_EDITIONS
    valid: list[PackEntry] = []
    for position, raw in enumerate(raw_entries):
        where = f"#{position}"
        if not isinstance(raw, dict):
            problems.append(ContentProblem(
                file, where, "-", f"entry must be a JSON object, found {type(raw).__name__}",
            ))
            continue
        index = raw.get("index")
        if "index" not in raw:
            problems.append(ContentProblem(file, where, "index", "missing index"))
            index = None
        elif not isinstance(index, str) or not index.strip():
            problems.append(ContentProblem(
                file, where, "index", f"index must be a non-empty string, found {index!r}",
            ))
            index = None
        else:
            where = index
            if index in seen:
                problems.append(ContentProblem(
                    file, where, "index", f"duplicate index (already at {seen[index]})",
                ))
                index = None
            else:
                seen[index] = f"{file} #{position}"
        entry_problems: list[ContentProblem] = []
        # The entry travels one level down in its event's data: same limit as an append.
        depth = json_depth(raw) + 1
        if depth > max_depth:
            problems.append(ContentProblem(
                file, where, "-", f"nested {depth} levels deep in its event; the limit is "
                f"{max_depth} (QUESTLOG_MAX_JSON_DEPTH)"))
            continue
        generic = model is None
        if model is not None:
            try:
                model.model_validate(raw)
            except ValidationError as exc:
                found = [
                    ContentProblem(file, where, field_path(err["loc"]), err["msg"])
                    for err in exc.errors(include_url=False)
                ]
                if strict_edition:
                    entry_problems.extend(p for p in found if p.field != "index")
                else:
                    generic = True
                    warnings.append(ContentProblem(
                        file, where, found[0].field,
                        f"does not fit the {type_name} model ({len(found)} difference(s), "
                        f"first: {found[0].message}); stored as a generic entry",
                    ))
        if generic and "name" in raw and not isinstance(raw["name"], str):
            entry_problems.append(ContentProblem(
                file, where, "name", f"name must be a string, found {type(raw['name']).__name__}",
            ))
        if entry_problems:
            problems.extend(entry_problems)
            continue
        if index is None:
            continue
        canonical = canonical_json(raw)
        problem = encoding_problem(canonical)
        if problem is not None:
            problems.append(ContentProblem(file, where, "-", f"entry {problem}"))
            continue
        valid.append(PackEntry(type_name, index, canonical, _text_hash(canonical), generic))
    return valid


def _validate_file(result: ValidatedPack, type_file: TypeFile, problems: list[ContentProblem],
                   seen_by_type: dict[str, dict[str, str]], limits: ContentLimits) -> None:
    """Validate one type file as it is parsed, entry by entry.

    A file that cannot be read to its end contributes one problem and nothing else
    (as if unread), so its findings and indexes are kept aside until its end.
    """
    name = type_file.path.name
    counted = _Counted(iter_entries(type_file, limits))
    file_problems: list[ContentProblem] = []
    file_warnings: list[ContentProblem] = []
    seen = seen_by_type.setdefault(type_file.type, {})
    file_seen = dict(seen)
    try:
        entries = validate_entries(
            type_file.type, counted, edition=result.edition, file=name,
            problems=file_problems, warnings=file_warnings, seen=file_seen,
            max_depth=limits.max_depth)
    except PackFileError as exc:
        problems.append(ContentProblem(name, "-", "-", str(exc)))
        return
    seen.update(file_seen)
    problems.extend(file_problems)
    result.warnings.extend(file_warnings)
    result.entries.extend(entries)
    result.types[type_file.type] = result.types.get(type_file.type, 0) + counted.count


class _Counted:
    """An iterator that counts what it hands out."""

    def __init__(self, items: Iterator[Any]) -> None:
        self.items = items
        self.count = 0

    def __iter__(self) -> Iterator[Any]:
        for item in self.items:
            self.count += 1
            yield item


def validate_pack(
    path: str | Path,
    *,
    pack: str | None = None,
    priority: int | None = None,
    edition: str | None = None,
    progress: Progress | None = None,
    limits: ContentLimits | None = None,
) -> ValidatedPack:
    """Read and check a whole pack; never raises for content problems (see `.problems`).

    The pack name, priority and edition come from the arguments, else from the
    manifest; without either, the pack is named after its directory. Limits default to the settings.
    Raises UnsafeContentPack for a link that leads outside the pack directory.
    """
    limits = limits or ContentLimits.from_settings()
    src = read_source(path, limits)
    problems = list(src.problems)
    manifest = src.manifest
    # The name: the argument, else the manifest's, else the directory's own name.
    name = pack if pack is not None else manifest.name
    if name is None:
        name = src.root.resolve().name
        if not PACK_NAME_RE.fullmatch(name):
            problems.append(ContentProblem(
                "-", "-", "name",
                f"the directory's name {name!r} is not a pack name (lowercase letters, digits, "
                "'_', '.', '-', max 64): pass --pack NAME or set name in the manifest",
            ))
    elif not PACK_NAME_RE.fullmatch(name):
        problems.append(ContentProblem(
            "-", "-", "name",
            f"invalid pack name {name!r}: lowercase letters, digits, '_', '.', '-' (max 64)",
        ))
    result = ValidatedPack(
        root=src.root, name=name, version=manifest.version,
        priority=priority if priority is not None else (
            manifest.priority if "priority" in manifest.model_fields_set else None),
        edition=edition if edition is not None else manifest.edition,
        license=manifest.license, source=manifest.source or str(src.root.resolve()),
        explicit_source=bool(manifest.source),
    )
    seen_by_type: dict[str, dict[str, str]] = {}
    total = len(src.files)
    for done, type_file in enumerate(src.files, start=1):
        _validate_file(result, type_file, problems, seen_by_type, limits)
        if progress is not None:
            progress("validate", done, total)
    result.problems = problems
    file_types = {f.path.name: f.type for f in src.files}
    failed_entries: set[tuple[str, str]] = set()
    for problem in problems:
        type_name = file_types.get(problem.file)
        if type_name is None:
            continue
        if problem.entry == "-":
            result.unreadable_types.add(type_name)
        else:
            failed_entries.add((problem.file, problem.entry))
            if not problem.entry.startswith("#"):
                result.skipped_keys.add((type_name, problem.entry))
    result.invalid_entries = len(failed_entries)
    return result
