"""Canonical JSON fast: orjson where it writes exactly the bytes of the reference encoder.

The log's hash chain covers the canonical JSON text of every event's data and
metadata (`events.canonical_json`), so a faster encoder may only be used where
it writes the same text as the reference one (`REFERENCE`: Python's json with
sorted keys, no spaces, UTF-8 kept, no NaN). orjson (C, sorted keys) does for
nearly every value; where it could differ the value goes to the reference
encoder, which also gives the errors callers already know:

- anything orjson refuses: non-str keys, integers beyond 64 bits, nesting past
  its limit, lone surrogates, subclasses of builtin types (passed through to
  the refusal, since Python's json treats some of them its own way);
- floats below 1e-4 in magnitude, which orjson writes as `0.00001` or `2.5e-7`
  where Python writes `1e-05` and `2.5e-07` (detected on the output: a false
  alarm, e.g. `0.0000` inside a string, only costs the slower encoder);
- values orjson writes but Python's json refuses or writes otherwise (NaN and
  infinities become `null`, UUIDs, enums, tuples): the output is decoded and
  compared with the value, which costs about a microsecond.

tests/core/test_fastjson.py checks byte equality on a large Hypothesis corpus.
Decoding (`loads`) uses orjson too, except for text with a 19-digit run: orjson
turns integers beyond 64 bits into floats, Python's json keeps them exact.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

import orjson

REFERENCE: Final = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                    allow_nan=False)
_OPTIONS: Final = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS
                   | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS)
# Where orjson's float text may differ from Python's repr (small magnitudes only).
_FLOAT_HAZARD: Final = re.compile(rb"0\.0000|e-")
# An integer orjson would decode as a float (or any long digit run: a false alarm is harmless).
_LONG_DIGITS: Final = re.compile(r"[0-9]{19}")
_dumps = orjson.dumps
_loads = orjson.loads
_json_loads = json.loads


def _refuse(value: Any) -> Any:
    raise TypeError  # orjson's `default`: let the reference encoder decide


def canonical_bytes(value: Any) -> bytes | None:
    """The canonical JSON of `value` as UTF-8, or None when only the reference encoder
    can say (it may then still succeed, or raise as it always did)."""
    try:
        out = _dumps(value, default=_refuse, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        return None
    if _FLOAT_HAZARD.search(out) is not None:
        return None
    # NaN/infinity (as null), UUIDs and enums (as strings), tuples (as arrays) all
    # encode, but not as Python's json would: decoded, they do not compare equal.
    if _loads(out) != value:
        return None
    return out


def canonical(value: Any) -> str:
    """Deterministic JSON text: sorted keys, no spaces, UTF-8 kept as is."""
    out = canonical_bytes(value)
    if out is None:
        return REFERENCE.encode(value)
    return out.decode("utf-8")


def loads(text: str | bytes) -> Any:
    """json.loads of stored JSON text, by orjson where it gives the same value."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if _LONG_DIGITS.search(text) is not None:
        return _json_loads(text)
    try:
        return _loads(text)
    except orjson.JSONDecodeError:
        return _json_loads(text)  # what orjson refuses (1e400) Python reads, or raises
