"""questlog: an event-sourced game-state and content store on SQLite or PostgreSQL.

    from questlog import Store, NewEvent, NO_STREAM
    store = Store.open("campaign.db")
    store.append("campaign-7", [NewEvent(type="CampaignCreated", data={...})],
                 expected_version=NO_STREAM)

Stability: the names in `__all__` are the public Python API. Within a major version
they keep their documented signatures and behaviour (new names and keyword arguments
may be added); removals are announced a minor version ahead with a DeprecationWarning.
Everything else — submodules such as `questlog.sqlite`, `questlog.http` internals,
helpers and private attributes — may change in any release. docs/compatibility.md says
the same for the CLI, HTTP (`/v1/`), the file format and event shapes.
"""

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

# A library prints nothing unless its application configures logging: without this,
# Python's last-resort handler would put questlog's warnings (slow operations, a
# projector parked) on the stderr of every program that embeds a Store. The CLI and
# the servers configure their own handlers (`questlog.observability.logs`).
logging.getLogger(__name__).addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from .errors import (
        Backpressure,
        ContentPackNotFound,
        ContentValidationError,
        DomainError,
        DuplicateEventId,
        InvalidEvent,
        NestingTooDeep,
        QuestlogError,
        ReadOnlyReplica,
        ReplicationError,
        VectorSearchUnavailable,
        WrongExpectedVersion,
    )
    from .events import (
        ANY,
        EVENT_TYPE_PATTERN,
        NO_STREAM,
        STREAM_EXISTS,
        STREAM_ID_PATTERN,
        AppendResult,
        NewEvent,
        RecordedEvent,
    )
    from .settings import Settings, load_settings
    from .store import Store

# Public name -> the module that defines it. Imported on first access (PEP 562), so
# `import questlog.cli` (every command's first step) pays only for what it uses.
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(
        ("Backpressure", "ContentPackNotFound", "ContentValidationError", "DomainError",
         "DuplicateEventId", "InvalidEvent", "NestingTooDeep", "QuestlogError",
         "ReadOnlyReplica", "ReplicationError", "VectorSearchUnavailable",
         "WrongExpectedVersion"), ".errors"),
    **dict.fromkeys(
        ("ANY", "EVENT_TYPE_PATTERN", "NO_STREAM", "STREAM_EXISTS", "STREAM_ID_PATTERN",
         "AppendResult", "NewEvent", "RecordedEvent"), ".events"),
    "Settings": ".settings",
    "load_settings": ".settings",
    "Store": ".store",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "ANY", "NO_STREAM", "STREAM_EXISTS", "AppendResult", "Backpressure", "ContentPackNotFound",
    "ContentValidationError", "DomainError", "NewEvent", "QuestlogError", "ReadOnlyReplica",
    "RecordedEvent", "ReplicationError", "Settings", "Store", "VectorSearchUnavailable",
    "WrongExpectedVersion", "load_settings",
    # input rules: the patterns ids and types must fullmatch, and the errors for bad input
    "EVENT_TYPE_PATTERN", "STREAM_ID_PATTERN", "DuplicateEventId", "InvalidEvent", "NestingTooDeep",
]
