"""Importing a pack as events: validate all, diff by content hash, then append.

Nothing is appended unless the whole pack validated (or `skip_invalid`). The
pack's events go to the stream `contentpack-<name>` in ONE append call (in calls
of `APPEND_CHUNK` events for a larger import) whose expected version is the
stream version the diff was computed against, so two concurrent imports of the
same pack cannot both apply: the second gets `WrongExpectedVersion` and writes
nothing. The diff is taken from the
`content_pack_entries` read model, which the inline projector keeps in step
with the stream inside the append's own transaction.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..errors import ContentPackNotFound
from ..events import NO_STREAM, ExpectedVersion, NewEvent
from . import tables
from .columns import PACKS_TABLE
from .results import ImportReport
from .source import ContentLimits
from .validation import PackEntry, Progress, ValidatedPack, validate_pack

if TYPE_CHECKING:
    from ..storage.session import Session
    from ..store import Store

STREAM_PREFIX: Final = "contentpack-"
# Events per append call. A pack's events up to this many (the whole SRD is ~2,300)
# are one atomic call; a larger import goes in calls of this size, so its memory
# stays at one call's events, and an interrupted one is finished by importing again
# (each entry's hash says what is still to do; ContentPackImported comes last).
APPEND_CHUNK: Final = 20_000
METADATA: Final = {"source": "questlog content import"}


def stream_of(pack: str) -> str:
    return f"{STREAM_PREFIX}{pack}"


def _built(store: Store, session: Session) -> bool:
    """Whether the content tables exist (the projector creates them all at once)."""
    return store.readmodels.exists(session, PACKS_TABLE)


def _pack_hashes(session: Session, pack: str) -> dict[tuple[str, str], str]:
    return tables.pack_hashes(session, pack)


def _expected(version: int) -> ExpectedVersion:
    return NO_STREAM if version == 0 else version


def import_pack(
    store: Store,
    path: str | Path,
    *,
    pack: str | None = None,
    priority: int | None = None,
    edition: str | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate a pack directory and append what changed (see the module doc)."""
    validated = validate_pack(path, pack=pack, priority=priority, edition=edition,
                              progress=progress,
                              limits=ContentLimits.from_settings(store.settings))
    if validated.identity_problems or (validated.problems and not skip_invalid):
        validated.raise_if_invalid()
    name = validated.name
    stream = stream_of(name)

    if not dry_run:
        # Start the writer first: it brings the content projector to the head (or
        # rebuilds it after an upgrade), so the read model below is current.
        store.write(lambda conn: None)
    # Version first, then the read model: any write in between moves the version,
    # and the append below then fails instead of applying a stale diff.
    version = store.stream_version(stream)
    with store.read() as conn:
        built = _built(store, conn)
        current_pack = tables.pack_row(conn, name) if built else None
        current = _pack_hashes(conn, name) if built else {}

    resolved_priority = validated.priority
    if resolved_priority is None:
        resolved_priority = int(current_pack["priority"]) if current_pack else 0
    manifest = {
        "pack": name, "version": validated.version, "priority": resolved_priority,
        "edition": validated.edition, "license": validated.license, "source": validated.source,
    }
    register = current_pack is None or any(
        current_pack[k] != manifest[k] for k in ("version", "priority", "edition", "license")
    ) or (validated.explicit_source and current_pack["source"] != validated.source)

    changed, removed, counts = _diff(validated, current)
    report: dict[str, Any] = dict(
        pack=name, version=validated.version, priority=resolved_priority,
        edition=validated.edition, invalid=validated.invalid_entries, registered=register,
        dry_run=dry_run, stream_version=version,
        by_type=dict(sorted(Counter(e.type for e in validated.entries).items())),
        problems=[p.as_dict() for p in validated.problems],
        warnings=[w.as_dict() for w in validated.warnings], **counts,
    )
    if not (register or changed or removed):
        return ImportReport(**report)
    total = int(register) + len(changed) + len(removed) + 1
    report["events_appended"] = total
    if dry_run:
        return ImportReport(**report)
    events = _events(name, manifest if register else None, changed, removed, validated, counts)
    calls = (total + APPEND_CHUNK - 1) // APPEND_CHUNK
    first = 0
    for done in range(calls):
        if progress is not None:
            progress("append", done, calls)
        chunk = list(itertools.islice(events, APPEND_CHUNK))
        # Each call expects the version the previous one left: a concurrent import
        # of the same pack fails at its next call instead of interleaving.
        result = store.append(stream, chunk, expected_version=_expected(version))
        version = result.stream_version
        first = first or result.first_position
        report["stream_version"] = version
        report["positions"] = [first, result.last_position]
    if progress is not None:
        progress("append", calls, calls)
    return ImportReport(**report)


def _diff(validated: ValidatedPack, current: dict[tuple[str, str], str]
          ) -> tuple[list[PackEntry], list[tuple[str, str]], dict[str, int]]:
    """The entries added or changed, the keys removed, and the counts of the report."""
    changed_entries: list[PackEntry] = []
    added = changed = unchanged = 0
    seen: set[tuple[str, str]] = set()
    for entry in sorted(validated.entries, key=lambda e: (e.type, e.index)):
        key = (entry.type, entry.index)
        seen.add(key)
        old = current.get(key)
        if old == entry.content_hash:
            unchanged += 1
            continue
        if old is None:
            added += 1
        else:
            changed += 1
        changed_entries.append(entry)
    removed = [key for key in sorted(current)
               if key not in seen and key not in validated.skipped_keys
               and key[0] not in validated.unreadable_types]
    return changed_entries, removed, {"added": added, "changed": changed,
                                      "removed": len(removed), "unchanged": unchanged}


def _events(name: str, manifest: dict[str, Any] | None, changed: list[PackEntry],
            removed: list[tuple[str, str]], validated: ValidatedPack,
            counts: dict[str, int]) -> Iterator[NewEvent]:
    """The import's events in order, built as they are appended (not all at once)."""
    if manifest is not None:
        yield NewEvent(type="ContentPackRegistered", data=manifest, metadata=METADATA)
    for entry in changed:
        yield NewEvent(type="ContentEntityUpserted", metadata=METADATA, data={
            "pack": name, "type": entry.type, "index": entry.index,
            "content_hash": entry.content_hash, "data": entry.data})
    for type_name, index in removed:
        yield NewEvent(type="ContentEntityRemoved", metadata=METADATA, data={
            "pack": name, "type": type_name, "index": index})
    yield NewEvent(type="ContentPackImported", metadata=METADATA, data={
        "pack": name, "invalid": validated.invalid_entries, **counts})


def pack_not_found(name: str, known: list[str]) -> ContentPackNotFound:
    """The one error for a pack name no loaded pack has (remove-pack, search filters)."""
    return ContentPackNotFound(
        f"no content pack {name!r}; loaded packs: {', '.join(known) or '(none)'}")


def remove_pack(store: Store, name: str) -> int:
    """Append ContentPackRemoved for a registered pack; returns the stream version."""
    stream = stream_of(name)
    version = store.stream_version(stream)
    with store.read() as conn:
        built = _built(store, conn)
        row = tables.pack_row(conn, name) if built else None
        known = tables.pack_names(conn) if built else []
    if row is None:
        raise pack_not_found(name, known)
    result = store.append(stream, [NewEvent(type="ContentPackRemoved", data={"pack": name},
                                            metadata=METADATA)],
                          expected_version=_expected(version))
    return result.stream_version
