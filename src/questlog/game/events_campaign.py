"""The 16 events of a `campaign-<id>` stream.

Field decisions that the domain note left open are written on each model.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from .event_base import Category, GameEvent
from .refs import Id, MonsterRef

Difficulty = Literal["easy", "normal", "hard", "deadly"]
XpSystem = Literal["milestone", "xp"]
QuestStatus = Literal["active", "completed", "failed", "inactive"]
Role = Literal["user", "assistant", "system"]
Coin = Literal["cp", "sp", "ep", "gp", "pp"]


class Place(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    description: str = ""


def _place(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


#: A place given as `{name, description?}` or as its name alone.
PlaceInput = Annotated[Place, BeforeValidator(_place, json_schema_input_type=(
    Annotated[str, Field(min_length=1, max_length=200, description="the place's name")]
    | Place))]


class Narration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = False
    voice: str | None = None


# The defaults of a new campaign (the campaign state starts from them too).
DEFAULT_DIFFICULTY: Difficulty = "normal"
DEFAULT_RULESET = "dnd5e-srd-2014"
DEFAULT_XP_SYSTEM: XpSystem = "xp"


class CampaignSetup(BaseModel):
    """The fields a campaign is created with: the `create_campaign` command and the
    CampaignCreated event share them. `house_rules` is a free JSON object (the source's
    flags vary)."""

    campaign_id: Id
    name: str = Field(min_length=1, max_length=200)
    template_id: str | None = None
    goal: str = ""
    starting_location: PlaceInput | None = None
    difficulty: Difficulty = DEFAULT_DIFFICULTY
    ruleset_id: str = DEFAULT_RULESET
    lore_id: str | None = None
    xp_system: XpSystem = DEFAULT_XP_SYSTEM
    house_rules: dict[str, Any] = Field(default_factory=dict)
    content_pack_priority: list[str] = Field(default_factory=list)
    narration: Narration = Field(default_factory=Narration)


class _CampaignEvent(GameEvent):
    category: ClassVar[Category] = "campaign"


class CampaignCreated(_CampaignEvent, CampaignSetup):
    """A campaign begins.

    Decision: `starting_location` may be absent (None: no location yet, the first
    LocationChanged sets it); `campaign_id` read from a log may be left out when the
    stream id gives it (see normalize.py).
    """

    event_type: ClassVar[str] = "CampaignCreated"


class SettingsChange(BaseModel):
    """Campaign settings to change (command and event): None means "unchanged".

    Decision: `house_rules` replaces the whole object when given (no deep merge).
    """

    name: str | None = None
    goal: str | None = None
    difficulty: Difficulty | None = None
    content_pack_priority: list[str] | None = None
    narration_enabled: bool | None = None
    tts_voice: str | None = None
    house_rules: dict[str, Any] | None = None


class CampaignSettingsChanged(_CampaignEvent, SettingsChange):
    """Only the fields that changed are set."""

    event_type: ClassVar[str] = "CampaignSettingsChanged"


class PartyMemberJoined(_CampaignEvent):
    """Emitted with CharacterCreated. `level` is the level at joining (the party
    sheet, not this event, follows later level-ups)."""

    event_type: ClassVar[str] = "PartyMemberJoined"
    character_id: Id
    template_id: str | None = None
    name: str
    level: int = Field(ge=1, le=20)


class PartyMemberLeft(_CampaignEvent):
    """The member stays in the log and its character stream; it leaves the active party.
    Decision: `reason` is free text ("left", "retired", "died", ...)."""

    event_type: ClassVar[str] = "PartyMemberLeft"
    character_id: Id
    reason: str = "left"


class SessionStarted(_CampaignEvent):
    """`started_at` is the game server's wall-clock time (ISO 8601), not the log's."""

    event_type: ClassVar[str] = "SessionStarted"
    session_number: int = Field(ge=1)
    started_at: str


class SessionEnded(_CampaignEvent):
    """`session_number` repeats the running session's number; `summary` is free text."""

    event_type: ClassVar[str] = "SessionEnded"
    session_number: int = Field(ge=1)
    summary: str | None = None


class LocationChanged(_CampaignEvent):
    """Replaces the current location; `previous_name` records what the command saw."""

    event_type: ClassVar[str] = "LocationChanged"
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    previous_name: str | None = None


class NpcFields(BaseModel):
    """An NPC record (command and event): None fields are left as they were."""

    npc_id: Id
    name: str | None = None
    description: str | None = None
    last_location: str | None = None
    attitude: str | None = None
    monster_ref: MonsterRef | None = None


class NpcRecorded(_CampaignEvent, NpcFields):
    """First occurrence of an `npc_id` introduces the NPC (name required then, by the
    command); later ones change only the fields that are not None."""

    event_type: ClassVar[str] = "NpcRecorded"


class QuestFields(BaseModel):
    """A new quest (command and event)."""

    quest_id: Id
    title: str = Field(min_length=1, max_length=200)
    description: str = ""
    status: QuestStatus = "active"


class QuestAdded(_CampaignEvent, QuestFields):
    """`quest_id` is unique per campaign; a second QuestAdded with it is refused."""

    event_type: ClassVar[str] = "QuestAdded"


class QuestRewards(BaseModel):
    """Decision: `items` are display names (free text); gold is in gp."""

    model_config = ConfigDict(extra="forbid")
    xp: int = Field(default=0, ge=0)
    gold: int = Field(default=0, ge=0)
    items: list[str] = Field(default_factory=list)
    reputation: str | None = None


class QuestChange(BaseModel):
    """A quest's fields to change (command and event): None means "unchanged"."""

    quest_id: Id
    objectives_completed: int | None = Field(default=None, ge=0)
    objectives_total: int | None = Field(default=None, ge=0)
    description: str | None = None
    rewards: QuestRewards | None = None


class QuestUpdated(_CampaignEvent, QuestChange):
    """Only given fields change; `status_from` records the status the command saw."""

    event_type: ClassVar[str] = "QuestUpdated"
    status_from: QuestStatus | None = None
    status_to: QuestStatus | None = None


class LoreRecorded(_CampaignEvent):
    """World lore or an event summary, with keywords for the narrative search corpus."""

    event_type: ClassVar[str] = "LoreRecorded"
    kind: Literal["world_lore", "event_summary"]
    text: str = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)


class MessageFields(BaseModel):
    """One chat message (command and event). Decision: `timestamp` is the game server's
    clock (optional); `ai_response_json` is kept as the raw string the model returned."""

    message_id: Id
    role: Role
    content: str
    gm_thought: str | None = None
    is_dice_result: bool = False
    detailed_content: str | None = None
    ai_response_json: str | None = None
    character_id: str | None = None
    timestamp: str | None = None


class MessageAppended(_CampaignEvent, MessageFields):
    """One chat message, appended to the campaign's history."""

    event_type: ClassVar[str] = "MessageAppended"


class MessageSuperseded(_CampaignEvent):
    """Hides a message from the chat read model (kept in the log). Decision: only
    the last 50 messages of a campaign can be superseded (a retry or an edit)."""

    event_type: ClassVar[str] = "MessageSuperseded"
    message_id: Id
    reason: Literal["retry", "edited"]


class DiceRequestFields(BaseModel):
    """A pending roll shown to players (command and event). Decision: `character_ids`
    must be active party members; `formula` is dice notation kept as text ("1d20+5")."""

    request_id: Id
    character_ids: list[Id] = Field(min_length=1)
    roll_type: str = Field(min_length=1, max_length=50)
    formula: str = Field(min_length=1, max_length=50)
    reason: str = ""
    skill: str | None = None
    ability: str | None = None
    dc: int | None = Field(default=None, ge=0, le=50)
    encounter_id: str | None = None


class DiceRollRequested(_CampaignEvent, DiceRequestFields):
    """A roll the players are asked for; pending until cleared."""

    event_type: ClassVar[str] = "DiceRollRequested"


class DiceRolled(_CampaignEvent):
    """A roll that was made (player-submitted or rolled by the server for an NPC).

    Decision: `rolls` are the individual die faces; `total = sum(rolls) + modifier`.
    """

    event_type: ClassVar[str] = "DiceRolled"
    request_id: str | None = None
    roller_id: str
    roller_kind: Literal["pc", "npc"]
    roll_type: str
    formula: str
    rolls: list[int] = Field(default_factory=list)
    modifier: int = 0
    total: int
    dc: int | None = None
    success: bool | None = None
    purpose: str = ""


class DiceRequestsCleared(_CampaignEvent):
    """Only requests that were pending are listed (the command drops the others)."""

    event_type: ClassVar[str] = "DiceRequestsCleared"
    request_ids: list[Id] = Field(min_length=1)
    reason: Literal["fulfilled", "superseded"]


CAMPAIGN_EVENTS: tuple[type[GameEvent], ...] = (
    CampaignCreated, CampaignSettingsChanged, PartyMemberJoined, PartyMemberLeft,
    SessionStarted, SessionEnded, LocationChanged, NpcRecorded, QuestAdded, QuestUpdated,
    LoreRecorded, MessageAppended, MessageSuperseded, DiceRollRequested, DiceRolled,
    DiceRequestsCleared,
)
