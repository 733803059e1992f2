"""The limits on JSON that questlog accepts: nesting depth and the size of numbers.

One nesting limit holds for every way in (HTTP, CLI, Python API, replay, content
import): `check_depth` runs where every append encodes its events
(`planner.encode_event`), so whatever was stored can also be served (a JSON
encoder or a pydantic serialiser gives up a few hundred levels down).

Text that cannot be stored as UTF-8 (lone surrogates) is refused too
(`encoding_problem`). JSON text that questlog parses itself (CLI `--data`, replay lines, content
files) goes through `loads`/`DECODER`, which refuse what Python would turn into a
traceback or a value no JSON encoder writes back: numbers out of a float's range
(`1e400` parses as infinity), `NaN`/`Infinity`, integers longer than Python's
int-string limit, and nesting deeper than the parser's recursion limit. Each is a
`JsonInputError` (a ValueError, like `json.JSONDecodeError`).
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any, Final

from .errors import NestingTooDeep

DEFAULT_MAX_JSON_DEPTH: Final = 64


class JsonInputError(ValueError):
    """JSON text that is well formed but holds what questlog refuses to store."""


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonInputError(f"number {text[:40]} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise JsonInputError(f"{name} is not a JSON number")


DECODER: Final = json.JSONDecoder(parse_float=_finite_float, parse_constant=_no_constant)


def decode_error(exc: BaseException) -> JsonInputError | None:
    """The JsonInputError for an exception raised while parsing, None if it is not ours.

    A too long integer raises a plain ValueError from `int()`, deep nesting a
    RecursionError from the C scanner; a JSONDecodeError stays what it is.
    """
    if isinstance(exc, JsonInputError):
        return exc
    if isinstance(exc, RecursionError):
        return JsonInputError("JSON is nested too deeply to parse")
    if isinstance(exc, ValueError) and not isinstance(exc, json.JSONDecodeError):
        return JsonInputError(
            f"a number has more than {sys.get_int_max_str_digits()} digits")
    return None


def loads(text: str | bytes) -> Any:
    """json.loads with the refusals above (JSONDecodeError for malformed text)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    try:
        return DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        mapped = decode_error(exc)
        if mapped is None:
            raise
        raise mapped from None


def encoding_problem(text: str) -> str | None:
    """Why JSON text cannot be stored as UTF-8 (None when it can).

    JSON's `\\ud800` escape decodes to a lone surrogate, which Python strings hold
    but UTF-8 (the log's hash input, SQLite's text) cannot: refuse it as bad input
    instead of failing later inside the writer.
    """
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"holds a lone surrogate ({text[exc.start]!a}), which is not valid Unicode "
                "text")
    return None


def json_depth(value: Any) -> int:
    """Nesting depth: 0 for a scalar, 1 for a flat object or array, and so on.

    Level by level (no recursion), so a value nested past the recursion limit is
    measured too.
    """
    containers = (dict, list, tuple)
    level = [value] if isinstance(value, containers) else []
    depth = 0
    while level:
        depth += 1
        below: list[Any] = []
        for item in level:
            children = item.values() if isinstance(item, dict) else item
            below.extend([c for c in children if isinstance(c, containers)])
        level = below
    return depth


def within_depth(text: str, limit: int, start: int = 0, end: int | None = None) -> bool:
    """True when JSON text (or text[start:end]) cannot be nested deeper than `limit`.

    A cheap bound, no parse: every level costs at least two characters and one
    '{' or '['. False means "measure it" (brackets inside strings count too).
    """
    stop = len(text) if end is None else end
    if stop - start <= 2 * limit:
        return True
    return text.count("{", start, stop) + text.count("[", start, stop) <= limit


def check_depth(event_type: str, event_id: str, field: str, value: Any, text: str | None,
                limit: int) -> None:
    """Raise NestingTooDeep when an event's data or metadata is nested past `limit`.

    `text` is the value's JSON encoding when there is one (None when the encoder
    itself gave up): the bound on it spares almost every event the walk.
    """
    if text is not None and within_depth(text, limit):
        return
    depth = json_depth(value)
    if depth > limit:
        raise NestingTooDeep(event_type, event_id, field, depth, limit)
