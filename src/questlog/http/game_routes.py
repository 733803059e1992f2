"""Game routes: commands (`POST /game/commands`) and the game read models.

They call `store.game` (questlog.game.api.GameAPI) at request time. The request body
of `POST /game/commands` is typed by the command models themselves (a discriminated
union on `kind`), so the spec shows every command and a bad one is a 422 naming it.
Read routes serve on read nodes too; the command route is a write (token, 403 on a read
node).
"""

# No `from __future__ import annotations`: FastAPI resolves the Annotated dependencies.

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from ..game.commands import Command
from .bodies import parse_body

Category = Literal["campaign", "character", "encounter"]
# The body is parsed by hand (bodies.py), so FastAPI does not add its 422 by itself.
BODY_422 = {"description": "Validation Error", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}}


class GameCommandsRequest(BaseModel):
    """One AI response: commands over several streams, appended atomically."""

    model_config = ConfigDict(extra="forbid")

    commands: list[Command] = Field(
        min_length=1, max_length=1000,
        description="Game commands, each an object whose `kind` picks its fields "
                    "(`questlog game commands` lists them with examples).")
    correlation_id: str | None = Field(
        default=None, max_length=200,
        description="Makes a retried response a no-op (event ids derive from it).")
    causation_id: str | None = Field(default=None, max_length=200)
    actor: str = Field(default="gm-ai", max_length=200)
    source: str = Field(default="ai_response", max_length=200)


def build_game_router(
    *,
    read_access: Callable[..., Awaitable[None]],
    write_access: Callable[..., Awaitable[None]],
    game: Callable[[], Any],
    as_json: Callable[[Any], Any],
    responses: Callable[..., dict[int | str, dict[str, Any]]],
    writable: bool,
) -> APIRouter:
    """The /game routes, given the app's access checks and its `store.game` accessor."""
    router = APIRouter(prefix="/game", tags=["game"])
    Read = Annotated[None, Depends(read_access)]
    Write = Annotated[None, Depends(write_access)]
    read_errors = responses(400, 401, 404, 503)

    if writable:
        @router.post("/commands", responses={**responses(400, 401, 403, 404, 409, 413, 429, 503),
                                             422: BODY_422},
                     summary="Apply game commands (one atomic multi-stream append)",
                     openapi_extra={"requestBody": {"required": True, "content": {
                         "application/json": {"schema": {
                             "$ref": "#/components/schemas/GameCommandsRequest"}}}}})
        async def apply(request: Request, _auth: Write) -> Any:
            # Parsed off the event loop (see bodies.py), applied in the thread pool.
            body = await parse_body(request, GameCommandsRequest)
            result = await run_in_threadpool(
                game().apply, body.commands, correlation_id=body.correlation_id,
                causation_id=body.causation_id, actor=body.actor, source=body.source)
            return as_json(result)
    else:
        @router.post("/commands", responses=responses(403, 413),
                     summary="Refused: this is a read-only replica")
        def apply_refused(_auth: Write) -> Any:  # pragma: no cover - write_access raises
            return None

    @router.get("/campaigns/{campaign_id}", responses=read_errors, summary="Campaign summary")
    def campaign(campaign_id: str, _access: Read) -> Any:
        return as_json(game().campaign_summary(campaign_id))

    @router.get("/campaigns/{campaign_id}/party", responses=read_errors,
                summary="Party sheets of the campaign's active members")
    def party(campaign_id: str, _access: Read) -> Any:
        return {"party": [as_json(s) for s in game().party(campaign_id)]}

    @router.get("/campaigns/{campaign_id}/quests", responses=read_errors, summary="Quest log")
    def quests(campaign_id: str, _access: Read,
               status: Annotated[str | None, Query(max_length=50)] = None) -> Any:
        return {"quests": [as_json(q) for q in game().quests(campaign_id, status=status)]}

    @router.get("/campaigns/{campaign_id}/npcs", responses=read_errors, summary="Known NPCs")
    def npcs(campaign_id: str, _access: Read) -> Any:
        return {"npcs": [as_json(n) for n in game().npcs(campaign_id)]}

    @router.get("/campaigns/{campaign_id}/chat", responses=read_errors,
                summary="Chat history, paged (superseded messages hidden)")
    def chat(campaign_id: str, _access: Read,
             page: Annotated[int, Query(ge=1, le=10**6)] = 1,
             page_size: Annotated[int, Query(ge=1, le=1000)] = 50,
             include_superseded: bool = False) -> Any:
        return as_json(game().chat(campaign_id, page=page, page_size=page_size,
                                   include_superseded=include_superseded))

    @router.get("/campaigns/{campaign_id}/dice", responses=read_errors,
                summary="Pending dice requests")
    def dice(campaign_id: str, _access: Read) -> Any:
        return {"requests": [as_json(d) for d in game().pending_dice(campaign_id)]}

    @router.get("/characters/{character_id}", responses=read_errors, summary="Party sheet")
    def character(character_id: str, _access: Read) -> Any:
        return as_json(game().party_sheet(character_id))

    @router.get("/characters/{character_id}/inventory", responses=read_errors,
                summary="Inventory")
    def inventory(character_id: str, _access: Read) -> Any:
        return {"items": [as_json(i) for i in game().inventory(character_id)]}

    @router.get("/encounters/{encounter_id}", responses=read_errors,
                summary="Encounter tracker (turn order, combatants)")
    def encounter(encounter_id: str, _access: Read) -> Any:
        return as_json(game().encounter_tracker(encounter_id))

    @router.get("/state/{category}/{entity_id}", responses=read_errors,
                summary="Aggregate state, now or at a past position / version / time")
    def state(category: Category, entity_id: str, _access: Read,
              position: Annotated[int | None, Query(ge=0, le=2**62)] = None,
              version: Annotated[int | None, Query(ge=0, le=2**62)] = None,
              timestamp: Annotated[str | None, Query(max_length=64)] = None) -> Any:
        return as_json(game().state(category, entity_id, position=position, version=version,
                                    timestamp=timestamp))

    return router
