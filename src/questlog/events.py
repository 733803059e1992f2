"""The event envelope: what callers append, what the log records, and how it is hashed.

`NewEvent` is what a caller hands to `append` (validated with pydantic, the same
model the HTTP API uses; defined in `new_event` and loaded on first use, so a
read never imports pydantic). `RecordedEvent` is what comes back from a read: a
plain slotted dataclass, because reads of millions of events must be cheap.
The canonical encoding below is the one the hash chain covers; changing it
changes every hash, so it is versioned by the log's schema, not by whim.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:  # re-exported: see __getattr__ at the end
    from hashlib import _Hash

    from .new_event import NewEvent as NewEvent

from . import fastjson

ANY: Final = "any"
NO_STREAM: Final = "no_stream"
STREAM_EXISTS: Final = "stream_exists"
ExpectedVersion = int | Literal["any", "no_stream", "stream_exists"]

GENESIS_HASH: Final = "0" * 64
# Published (questlog.STREAM_ID_PATTERN, ...) for clients that check before they send.
# Matched with fullmatch: with `match`, `$` also matches before a trailing newline.
STREAM_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,199}$"
EVENT_TYPE_PATTERN: Final = r"^[A-Za-z][A-Za-z0-9_.]{0,99}$"
STREAM_ID_RE: Final = re.compile(STREAM_ID_PATTERN)
EVENT_TYPE_RE: Final = re.compile(EVENT_TYPE_PATTERN)


def category_of(stream_id: str) -> str:
    """The stream's category: its id before the first '-' (the whole id if none)."""
    return stream_id.split("-", 1)[0]


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 kept as is (byte for byte what
    Python's json writes with those settings: see `fastjson`)."""
    return fastjson.canonical(value)


# (second, its "%Y-%m-%dT%H:%M:%S" text): the writer stamps every batch, and formatting
# the date costs more than the rest of the stamp; swapped whole, so threads may share it.
_formatted_second: tuple[int, str] = (-1, "")


def utc_now() -> str:
    """Current UTC time in the log's format (ISO 8601, microseconds, 'Z')."""
    global _formatted_second
    second, micros = divmod(time.time_ns() // 1000, 1_000_000)
    cached = _formatted_second
    if cached[0] != second:
        cached = _formatted_second = (
            second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{micros:06d}Z"


def validate_stream_id(stream_id: str) -> str:
    if not isinstance(stream_id, str) or not STREAM_ID_RE.fullmatch(stream_id):
        raise ValueError(
            f"invalid stream id {stream_id!r}: 1-200 characters of letters, digits and _.:@-, "
            "starting with a letter or digit"
        )
    return stream_id


def validate_expected_version(expected: object) -> ExpectedVersion:
    if expected in (ANY, NO_STREAM, STREAM_EXISTS):
        return expected
    if isinstance(expected, int) and not isinstance(expected, bool) and expected >= 0:
        return expected
    raise ValueError(
        f"invalid expected version {expected!r}: an integer >= 0, "
        f"or one of {ANY!r}, {NO_STREAM!r}, {STREAM_EXISTS!r}"
    )


def new_event_id() -> uuid.UUID:
    """A UUIDv7-style id (48-bit millisecond time, then random): ids generated close in
    time sort close together, so the unique index on event_id takes appends at its
    right edge instead of dirtying a random page per event."""
    return uuid.UUID(new_event_id_text())


def new_event_id_text() -> str:
    """`str(new_event_id())` without a UUID object: the hot path's id."""
    return _id_text(os.urandom(10).hex())


def new_event_id_texts(count: int) -> Iterator[str]:
    """`count` ids as `new_event_id_text` makes them, their random bits drawn from
    `os.urandom` in one call: each call releases the GIL for a system call, and with
    several threads appending, an id per call waited to take the GIL back (making ids
    was half of a producer thread's time at 2 threads x 10,000-event calls, py-spy)."""
    randoms = os.urandom(10 * count).hex()
    for start in range(0, 20 * count, 20):
        yield _id_text(randoms[start:start + 20])


def _id_text(r: str) -> str:
    """The UUIDv7 text of now and 80 random bits `r` (20 hex digits)."""
    t = f"{time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF:012x}"  # 48-bit ms time
    # Version 7 replaces the first random nibble; the RFC 9562 variant takes the top two
    # bits of the fifth.
    return f"{t[:8]}-{t[8:]}-7{r[1:4]}-{_VARIANT[r[4]]}{r[5:8]}-{r[8:]}"


_VARIANT: Final = {f"{n:x}": f"{0b1000 | n & 0b11:x}" for n in range(16)}


MIN_SCHEMA_VERSION: Final = 1
MAX_SCHEMA_VERSION: Final = 10_000
_EVENT_FIELDS: Final = frozenset({"type", "data", "metadata", "event_id", "schema_version"})
_CANONICAL_UUID_RE: Final = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def plain_new_event(value: dict[str, Any], ids: Iterator[str] | None = None,
                    ) -> tuple[str, dict[str, Any], dict[str, Any], str, int, bool] | None:
    """The fields of a NewEvent given as a plain dict, checked without pydantic:
    (type, data, metadata, event_id, schema_version, id_given), or None when the dict
    is not plainly valid (pydantic then decides, and words any refusal).

    Only exact builtin types are taken (pydantic's lax conversions are left to it), so
    what this accepts NewEvent accepts with the same values (tests/core/test_new_event_fast.py).
    A new id comes from `ids` (`new_event_id_texts` of the call) when given.
    """
    if not _EVENT_FIELDS.issuperset(value):
        return None
    type_ = value.get("type")
    if type(type_) is not str or not EVENT_TYPE_RE.fullmatch(type_):
        return None
    data = _plain_object(value.get("data", _ABSENT))
    metadata = _plain_object(value.get("metadata", _ABSENT))
    if data is None or metadata is None:
        return None
    version = value.get("schema_version", MIN_SCHEMA_VERSION)
    if type(version) is not int or not MIN_SCHEMA_VERSION <= version <= MAX_SCHEMA_VERSION:
        return None
    given = value.get("event_id")
    if given is None:
        if "event_id" in value:
            return None
        return (type_, data, metadata, new_event_id_text() if ids is None else next(ids),
                version, False)
    if type(given) is uuid.UUID:
        return type_, data, metadata, str(given), version, True
    if type(given) is str and _CANONICAL_UUID_RE.fullmatch(given):
        return type_, data, metadata, given, version, True
    return None


_ABSENT: Final[dict[str, Any]] = {}


def _plain_object(value: object) -> dict[str, Any] | None:
    """A copy of a dict with str keys (as pydantic's dict[str, Any] makes), else None."""
    if value is _ABSENT:
        return {}
    if type(value) is not dict:
        return None
    for key in value:
        if type(key) is not str:
            return None
    return dict(value)


@dataclass(slots=True)
class RecordedEvent:
    """One event as stored in the log (treat it as read-only; not frozen, because
    frozen dataclasses cost a rebuild of millions of events a second of setattr)."""

    position: int
    event_id: str
    stream_id: str
    stream_version: int
    category: str
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: str
    hash: str
    # The game's canonical reading of `data` (`game.normalize.canonical_of`), once known:
    # the append check computes it in the producer's thread and the planner hands it on,
    # so the inline projectors that fold the event in the writer do not validate it again
    # (nor does each of them once more). Not part of the event: never compared or shown.
    canonical: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def envelope(self) -> dict[str, Any]:
        """The JSON-lines form of `events export` (and of HTTP reads)."""
        return {
            "position": self.position,
            "event_id": self.event_id,
            "stream_id": self.stream_id,
            "stream_version": self.stream_version,
            "type": self.type,
            "schema_version": self.schema_version,
            "data": self.data,
            "metadata": self.metadata,
            "recorded_at": self.recorded_at,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append call returns once its transaction is durable."""

    positions: list[int]
    stream_version: int

    @property
    def first_position(self) -> int:
        return self.positions[0] if self.positions else 0

    @property
    def last_position(self) -> int:
        return self.positions[-1] if self.positions else 0


def event_digest(
    prev_hash: str,
    position: int,
    event_id: str,
    stream_id: str,
    stream_version: int,
    type_: str,
    schema_version: int,
    data_json: str,
    metadata_json: str,
    recorded_at: str,
) -> str:
    """SHA-256 over the previous hash and the canonical encoding of this event.

    The data and metadata are hashed as their stored (canonical) JSON text, so
    verification needs no re-encoding and any changed stored byte shows.
    """
    # Newline-separated: no field can hold a raw newline (ids and types are restricted,
    # JSON text escapes control characters), so the encoding is unambiguous.
    body = "\n".join((str(position), event_id, stream_id, str(stream_version), type_,
                      str(schema_version), data_json, metadata_json, recorded_at))
    return _sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _load_sha256(data: bytes) -> _Hash:
    # hashlib loads OpenSSL (~3 ms of a cold command): reads never hash, so it is
    # imported by the first hash, which then binds `_sha256` to hashlib's directly.
    global _sha256
    import hashlib

    _sha256 = hashlib.sha256
    return _sha256(data)


_sha256: Callable[[bytes], _Hash] = _load_sha256


def __getattr__(name: str) -> Any:
    # `from questlog.events import NewEvent` keeps working; pydantic loads only then.
    if name == "NewEvent":
        from .new_event import NewEvent

        return NewEvent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
