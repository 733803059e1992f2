"""`questlog replay --check`: every problem of a foreign JSON-lines log, in one pass.

Reads the file only (no store is opened, created or changed) and reports, per
line: the line number, the event type, the field and what was found. Problems
are of these kinds: `unparsable` (not UTF-8, not JSON, not an object),
`beyond_limits` (a number or a nesting depth the store refuses),
`missing_field`, `bad_stream_id`, `bad_type`, `bad_envelope` (event id, data,
metadata or schema version of the wrong shape), `duplicate_event_id` (within the
file), and `invalid_payload` (a known game event type on a game stream whose
data the game's event models refuse).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import LogCheckFailed as LogCheckFailed  # re-exported: it moved to errors
from .events import category_of
from .jsonlimits import json_depth
from .replay import read_line, show

# Streams whose known event types are game events (questlog.game's aggregates).
GAME_CATEGORIES = frozenset({"campaign", "character", "encounter"})


@dataclass(frozen=True)
class Problem:
    line: int
    kind: str
    field: str
    found: str
    type: str | None = None
    event_id: str | None = None

    def describe(self) -> str:
        what = f" {self.type}" if self.type else ""
        return f"line {self.line}:{what} {self.field}: {self.found}"


@dataclass
class CheckReport:
    path: str
    lines: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, int]:
        return dict(sorted(Counter(p.kind for p in self.problems).items()))

    @property
    def bad_lines(self) -> int:
        return len({p.line for p in self.problems})

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "lines": self.lines, "bad_lines": self.bad_lines,
                "problems": [asdict(p) for p in self.problems], "summary": self.summary}

    def headline(self) -> str:
        kinds = ", ".join(f"{k} {n}" for k, n in self.summary.items())
        return (f"{len(self.problems)} problem(s) on {self.bad_lines} of {self.lines} line(s) "
                f"of {self.path}" + (f": {kinds}" if kinds else ""))


def game_payload_problems(event_type: str, schema_version: int,
                          data: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, what was found) for each fault of a game event's data; [] if it decodes.

    The one place `replay --check` asks the game registry, so how recorded game
    events are judged (tolerance of variants) is decided by `registry.decode` alone.
    """
    from .game.errors import InvalidCommand
    from .game.registry import GAME_EVENT_TYPES, UnknownGameEvent, decode

    if event_type not in GAME_EVENT_TYPES:
        return []
    try:
        decode(event_type, schema_version, data)
    except UnknownGameEvent as exc:
        return [("schema_version", str(exc))]
    except InvalidCommand as exc:
        cause = exc.__cause__
        if isinstance(cause, ValidationError):
            return [("data." + ".".join(str(p) for p in err["loc"]),
                     f"{err['msg'].rstrip('.')}; found {show(err.get('input'))}")
                    for err in cause.errors()]
        return [("data", str(exc))]
    return []


def check_file(path: Path, max_depth: int) -> CheckReport:
    """Every problem of the log at `path`; reads the file only.

    `max_depth` is the store's nesting limit (QUESTLOG_MAX_JSON_DEPTH): deeper data or
    metadata would be refused by the append, so it is a problem of the line here.
    """
    report = CheckReport(str(path))
    first_line: dict[str, int] = {}
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                report.lines += 1
                report.problems.append(Problem(number, "unparsable", "line",
                                               f"not valid UTF-8 (byte {exc.start})"))
                continue
            if not text:
                continue
            report.lines += 1
            report.problems.extend(_check_line(number, text, first_line, max_depth))
    return report


def _check_line(number: int, text: str, first_line: dict[str, int],
                max_depth: int) -> list[Problem]:
    obj, parsed, line_problems = read_line(text)
    type_ = obj.get("type") if obj is not None and isinstance(obj.get("type"), str) else None
    raw_id = obj.get("event_id") if obj is not None else None
    event_id = _normal_id(raw_id)
    problems = [Problem(number, p.kind, p.field, p.found, type_, event_id)
                for p in line_problems]
    if event_id is not None:
        seen = first_line.setdefault(event_id, number)
        if seen != number:
            problems.append(Problem(number, "duplicate_event_id", "event_id",
                                    f"{event_id} (also on line {seen})", type_, event_id))
    if parsed is not None:
        stream_id, event = parsed
        for name, value in (("data", event.data), ("metadata", event.metadata)):
            depth = json_depth(value)
            if depth > max_depth:
                problems.append(Problem(number, "beyond_limits", name,
                                        f"nested {depth} levels deep (the limit is {max_depth})",
                                        type_, event_id))
        if category_of(stream_id) in GAME_CATEGORIES:
            problems.extend(
                Problem(number, "invalid_payload", name, found, event.type, event_id)
                for name, found in game_payload_problems(event.type, event.schema_version,
                                                         event.data))
    return problems


def _normal_id(value: Any) -> str | None:
    """The event id as the store would keep it (so differently written ids still match)."""
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
