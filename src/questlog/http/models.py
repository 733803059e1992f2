"""Request and response bodies of the HTTP API (the OpenAPI spec is generated from these).

Appended events are the library's own `NewEvent`, so the HTTP API validates
exactly what `Store.append` does.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..events import NewEvent

ExpectedVersionBody = (Annotated[int, Field(ge=0, le=2**62)]
                       | Literal["any", "no_stream", "stream_exists"])


class AppendRequest(BaseModel):
    """`POST /streams/{stream_id}/events`: atomic, all events or none."""

    model_config = ConfigDict(extra="forbid")

    expected_version: ExpectedVersionBody = Field(
        default="any",
        description="Stream version the caller expects (0 = no stream yet), or any / no_stream / "
        "stream_exists. A mismatch answers 409 and writes nothing.",
    )
    events: list[NewEvent] = Field(min_length=1, max_length=10_000)
    wait_replicated: bool = Field(
        default=False,
        description="Answer only once the events are on the replica (write node with a replica).",
    )


class AppendResponse(BaseModel):
    positions: list[int]
    stream_version: int
    replicated: bool = False


class AppendNotReplicatedResponse(BaseModel):
    """202: the events ARE committed on this node, but the replica did not confirm them in
    time. Do not append them again (they would be stored twice): they will reach the
    replica when it catches up; `GET /health` shows its position."""

    committed: Literal[True] = True
    replicated: Literal[False] = False
    positions: list[int]
    stream_version: int
    error: Literal["replication_timeout"] = "replication_timeout"
    detail: str


class EventEnvelope(BaseModel):
    """One recorded event, in the JSON-lines form of `events export`."""

    position: int
    event_id: str
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: str
    hash: str


class EventsResponse(BaseModel):
    """One page of the global log: at most `limit` events and about the byte budget."""

    events: list[EventEnvelope]
    next_from_position: int | None = Field(
        default=None,
        description="Pass as from_position for the next page; null when this page reached "
        "the end of the log (as of this read).")


class StreamResponse(BaseModel):
    """One page of a stream: at most `limit` events."""

    events: list[EventEnvelope]
    next_from_version: int | None = Field(
        default=None,
        description="Pass as from_version (same `backwards`) for the next page; null when "
        "this page reached the end of the stream.")


class ErrorResponse(BaseModel):
    """Every error answer: RFC 9457 problem details, served as `application/problem+json`.

    `error` (an extension member) is the machine-readable kind, `type` the same kind as a
    URI (`urn:questlog:problem:<error>`), `detail` one sentence naming what was wrong.
    """

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI of the problem's kind: urn:questlog:problem:<error>.")
    title: str = Field(description="The kind in words; the same for every answer of a kind.")
    status: int = Field(description="The HTTP status code of this answer.")
    detail: str = Field(description="What was wrong, for this request.")
    error: str = Field(description="The kind, snake_case (e.g. wrong_expected_version).")


class ConflictResponse(ErrorResponse):
    """409: the stream's expected and actual versions."""

    stream_id: str
    expected: Any
    actual: int


class ValidationIssue(BaseModel):
    """One thing wrong in a request (FastAPI's item; `input` echoes at most 200 chars)."""

    loc: list[str | int]
    msg: str
    type: str
    input: Any = None
    ctx: dict[str, Any] | None = None


class ValidationErrorResponse(ErrorResponse):
    """422 for a request that does not fit its parameters or body: every issue listed."""

    errors: list[ValidationIssue]


class HealthResponse(BaseModel):
    """Without a token, when the server sets QUESTLOG_READ_TOKEN, only status and position."""

    role: Literal["write", "read"] | None = None
    status: Literal["ok", "degraded", "starting"]
    position: int = Field(description="Highest event position this node serves.")
    reason: str | None = Field(
        default=None, description="Why the status is degraded (e.g. writes fail: disk full).")
    commit_time: str | None = Field(default=None,
                                    description="recorded_at of that event (UTC).")
    primary_position: int | None = Field(
        default=None,
        description="Write node: the last position confirmed on the replica. Read node: the "
        "primary's last replicated position (a standby's: the primary's head) as last seen "
        "(needs --primary).",
    )
    lag_positions: int | None = Field(
        default=None, description="Positions the primary has that this node does not yet "
        "(null when unknown: a read node without --primary).")
    lag_seconds: float | None = Field(
        default=None, description="Commit-time gap between the primary's head and this "
        "node's (0 when no position is missing); without --primary, a Litestream node's time "
        "behind its replica, a standby's replay delay.")
    replication: dict[str, Any] | None = None


class ProjectionsResponse(BaseModel):
    head_position: int
    projections: list[dict[str, Any]]


class ContentListResponse(BaseModel):
    items: list[dict[str, Any]]


class SearchResponse(BaseModel):
    hits: list[dict[str, Any]]
