"""JSON answers built by the stdlib encoder, so whatever the store holds can be served.

pydantic's serializer stops at a fixed depth ("Maximum serialization depth
exceeded"), yet a store may hold events nested deeper than that (written before a
nesting limit existed, or replayed from an export); reading must never fail on
what was stored. The stdlib encoder goes as deep as the decoder that read the
row. Events are encoded one at a time, which also lets a page stop at a byte
budget without encoding anything twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from pydantic import BaseModel

from ..events import RecordedEvent

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

# Bounded work per read request: a page holds at most MAX_PAGE_EVENTS events (the default
# DEFAULT_PAGE_EVENTS) and stops at about MAX_PAGE_BYTES of them (at least one event);
# events are read READ_BATCH_EVENTS at a time so a page stopped early read little more.
DEFAULT_PAGE_EVENTS = 1000
MAX_PAGE_EVENTS = 10_000
MAX_PAGE_BYTES = 4 * 1024 * 1024
READ_BATCH_EVENTS = 100


def encode(value: Any) -> str:
    """`value` as compact JSON; pydantic models and enums inside it become plain JSON."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_plain)


def json_response(body: str | bytes, status_code: int = 200) -> Response:
    """A response whose JSON was built here (FastAPI re-encodes nothing)."""
    content = body.encode("utf-8") if isinstance(body, str) else body
    return Response(content, status_code=status_code, media_type="application/json")


def as_json(value: Any) -> Any:
    """A read model (pydantic model, dataclass with as_dict, plain value) as JSON-able data.

    pydantic's own dump keeps its aliases and custom serializers; a value too deep for it
    is handed to the stdlib encoder as it is (see `_plain`).
    """
    if isinstance(value, BaseModel):
        try:
            return value.model_dump(mode="json")
        except ValueError:  # "Maximum serialization depth exceeded"
            return value
    if hasattr(value, "as_dict"):
        return jsonable_encoder(value.as_dict())
    return jsonable_encoder(value)


def _plain(value: Any) -> Any:
    """The stdlib encoder's fallback for what pydantic could not dump (too deep)."""
    if isinstance(value, BaseModel):
        return dict(value)  # fields and extras, nested models handled on the next call
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@dataclass(frozen=True)
class Page:
    """Encoded events of one page, and whether the page stopped before the reader's end."""

    encoded: list[bytes]
    last: RecordedEvent | None
    more: bool


def paginate(events: Iterable[RecordedEvent], limit: int, max_bytes: int) -> Page:
    """Take up to `limit` events and about `max_bytes` of JSON from `events`.

    `events` may yield one event past `limit` (the caller reads limit+1) so that a page
    which holds exactly the rest says so. The first event is always taken, however big,
    so a reader always makes progress.
    """
    encoded: list[bytes] = []
    size = 0
    last: RecordedEvent | None = None
    iterator: Iterator[RecordedEvent] = iter(events)
    for event in iterator:
        if len(encoded) >= limit:
            return Page(encoded, last, True)
        text = _ENCODER.encode(event.envelope()).encode("utf-8")
        if encoded and size + len(text) > max_bytes:
            return Page(encoded, last, True)
        encoded.append(text)
        size += len(text) + 1
        last = event
    return Page(encoded, last, False)


def page_body(page: Page, next_field: str, next_value: int | None) -> bytes:
    """`{"events": [...], "<next_field>": N|null}` from already encoded events."""
    tail = f'],"{next_field}":{"null" if next_value is None else next_value}}}'
    return b'{"events":[' + b",".join(page.encoded) + tail.encode("ascii")
