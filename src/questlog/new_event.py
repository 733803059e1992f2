"""`NewEvent`: what a caller hands to `append`, validated with pydantic (the same
model the HTTP API uses).

Apart from `questlog.events` (which re-exports it) because pydantic costs a cold
command about three bare interpreter starts: reads never need it.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .events import EVENT_TYPE_RE, MAX_SCHEMA_VERSION, MIN_SCHEMA_VERSION, new_event_id


class NewEvent(BaseModel):
    """An event to append. `event_id` makes a retried append a no-op."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str = Field(description="Event type, e.g. 'CampaignCreated'.")
    data: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    event_id: uuid.UUID = Field(default_factory=new_event_id)
    schema_version: int = Field(default=1, ge=MIN_SCHEMA_VERSION, le=MAX_SCHEMA_VERSION)

    @field_validator("type")
    @classmethod
    def _check_type(cls, value: str) -> str:
        if not EVENT_TYPE_RE.fullmatch(value):
            raise ValueError(
                "event type must start with a letter and hold only letters, digits, '_' and '.'"
            )
        return value
