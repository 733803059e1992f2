"""Audit replay: append a recorded JSON-lines log into a store, in file order.

Lines need only `event_id`, `stream_id`, `type` and `data` (schema version 1,
empty metadata); lines whose event id is stored already are skipped, so
replaying a log twice changes nothing. `read_line` is the one definition of a
valid line, shared with `replay --check` (replay_check.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from . import jsonlimits
from .errors import DigestMismatch, InvalidEvent
from .events import ANY, NewEvent, validate_stream_id

if TYPE_CHECKING:
    from .store import Store

BATCH = 500


@dataclass
class ReplayReport:
    appended: int
    skipped: int


REQUIRED_FIELDS = ("event_id", "stream_id", "type", "data")


@dataclass(frozen=True)
class LineProblem:
    """One thing wrong with one line of a JSON-lines log."""

    kind: str  # unparsable | beyond_limits | missing_field | bad_stream_id | bad_type | bad_envelope
    field: str
    found: str


def show(value: Any, limit: int = 60) -> str:
    """A short rendering of what was found, for one-line messages."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def read_line(text: str) -> tuple[dict[str, Any] | None, tuple[str, NewEvent] | None,
                                  list[LineProblem]]:
    """Parse one line: (the JSON object, (stream id, event) when valid, every problem).

    The one place that decides what a valid line is, for `replay` and `replay --check`.
    """
    try:
        obj = jsonlimits.loads(text)
    except json.JSONDecodeError as exc:
        return None, None, [LineProblem("unparsable", "line", f"not valid JSON ({exc.msg})")]
    except ValueError as exc:  # a number or nesting JSON cannot carry
        return None, None, [LineProblem("beyond_limits", "line", str(exc))]
    if not isinstance(obj, dict):
        return None, None, [LineProblem("unparsable", "line",
                                        f"a JSON {type(obj).__name__}, not an object")]
    problems = [LineProblem("missing_field", k, "absent") for k in REQUIRED_FIELDS
                if k not in obj]
    stream = obj.get("stream_id")
    if "stream_id" in obj:
        try:
            validate_stream_id(stream)  # type: ignore[arg-type]  # refuses non-strings too
        except ValueError:
            problems.append(LineProblem("bad_stream_id", "stream_id", show(stream)))
    fields = {k: obj[k] for k in ("event_id", "type", "data") if k in obj}
    fields["metadata"] = obj.get("metadata") or {}
    fields["schema_version"] = obj.get("schema_version") or 1
    try:
        event = NewEvent.model_validate(fields)
    except ValidationError as exc:
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "event"
            kind = "bad_type" if name == "type" else "bad_envelope"
            problems.append(LineProblem(
                kind, name, f"{err['msg'].rstrip('.')}; found {show(err.get('input'))}"))
        return obj, None, problems
    if problems:
        return obj, None, problems
    return obj, (str(stream), event), []


def parse_line(line: str, number: int) -> tuple[str, NewEvent]:
    """The stream id and event of one line; InvalidEvent names every problem of it."""
    _, parsed, problems = read_line(line)
    if parsed is None:
        raise InvalidEvent(f"line {number}: " + "; ".join(
            f"{p.field}: {p.found}" for p in problems))
    return parsed


def _read(path: Path) -> Iterator[tuple[int, int, str, NewEvent]]:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                raise InvalidEvent(f"line {number}: not UTF-8 ({exc.reason})") from None
            if text:
                stream, event = parse_line(text, number)
                yield number, len(raw), stream, event


def replay_file(store: Store, path: Path,
                progress: Callable[[int], None] | None = None) -> ReplayReport:
    """Append the log's events in file order, skipping ids already stored.

    The events are recorded facts (`validate=False`): an inline projector that cannot
    apply one parks, and the event is stored all the same.
    """
    appended = skipped = 0
    batch: list[tuple[str, NewEvent]] = []
    size = 0

    def flush() -> None:
        nonlocal appended, skipped, size
        if not batch:
            return
        ids = [str(e.event_id) for _, e in batch]
        with store.read() as session:
            stored = store.backend.log.existing_events(session, ids).keys()
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
