"""Audit replay: append a recorded JSON-lines log into a store, in file order.

Lines need only `event_id`, `stream_id`, `type` and `data` (schema version 1,
empty metadata); lines whose event id is stored already are skipped, so
replaying a log twice changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DigestMismatch, InvalidEvent
from .events import ANY, NewEvent

if TYPE_CHECKING:
    from .store import Store

BATCH = 500


@dataclass
class ReplayReport:
    appended: int
    skipped: int


def parse_line(line: str, number: int) -> tuple[str, NewEvent]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidEvent(f"line {number}: not valid JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise InvalidEvent(f"line {number}: expected a JSON object")
    missing = [k for k in ("event_id", "stream_id", "type", "data") if k not in obj]
    if missing:
        raise InvalidEvent(f"line {number}: missing {', '.join(missing)}")
    try:
        event = NewEvent(event_id=obj["event_id"], type=obj["type"], data=obj["data"],
                         metadata=obj.get("metadata") or {},
                         schema_version=obj.get("schema_version") or 1)
    except ValueError as exc:
        raise InvalidEvent(f"line {number}: {exc}") from None
    return str(obj["stream_id"]), event


def _read(path: Path) -> Iterator[tuple[int, int, str, NewEvent]]:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            text = raw.decode("utf-8").strip()
            if text:
                stream, event = parse_line(text, number)
                yield number, len(raw), stream, event


def replay_file(store: Store, path: Path,
                progress: Callable[[int], None] | None = None) -> ReplayReport:
    """Append the log's events in file order, skipping ids already stored."""
    appended = skipped = 0
    batch: list[tuple[str, NewEvent]] = []
    size = 0

    def flush() -> None:
        nonlocal appended, skipped, size
        if not batch:
            return
        ids = [str(e.event_id) for _, e in batch]
        with store.read() as conn:
            marks = ",".join("?" * len(ids))
            stored = {r[0] for r in conn.execute(
                f"SELECT event_id FROM events WHERE event_id IN ({marks})", ids)}
        fresh = [(s, e) for s, e in batch if str(e.event_id) not in stored]
        skipped += len(batch) - len(fresh)
        if fresh:
            # Consecutive events of one stream go in one call; the whole batch is atomic.
            calls: list[tuple[str, list[NewEvent], Any]] = []
            for stream, event in fresh:
                if calls and calls[-1][0] == stream:
                    calls[-1][1].append(event)
                else:
                    calls.append((stream, [event], ANY))
            store.append_many(calls, validate=False)   # recorded facts: read tolerantly later
            appended += len(fresh)
        batch.clear()
        if progress is not None:
            progress(size)
        size = 0

    for _, nbytes, stream, event in _read(path):
        batch.append((stream, event))
        size += nbytes
        if len(batch) >= BATCH:
            flush()
    flush()
    return ReplayReport(appended, skipped)


def compare_digests(actual: dict[str, str], expected: dict[str, str]) -> None:
    """Raise DigestMismatch naming every read model whose digest differs."""
    bad = [name for name in sorted(expected) if actual.get(name) != expected[name]]
    if bad:
        raise DigestMismatch(
            "digest differs for read model(s): " + ", ".join(
                f"{n} (expected {expected[n][:12]}…, got {(actual.get(n) or 'missing')[:12]}…)"
                for n in bad))
