"""Campaign commands: settings, party, sessions, places, NPCs, quests, chat, dice."""

from __future__ import annotations

from typing import Any

from . import commands as c
from . import events_campaign as ev
from .decider import UnitOfWork
from .errors import EntityExists, InvalidCommand, RuleViolation, UnknownEntity


def create_campaign(uow: UnitOfWork, cmd: c.CreateCampaign) -> None:
    state = uow.campaign(cmd.campaign_id, must_exist=False)
    if state.exists:
        raise EntityExists(f"campaign {cmd.campaign_id!r} already exists")
    uow.emit("campaign", cmd.campaign_id, ev.CampaignCreated.model_validate(
        cmd.model_dump(exclude={"kind"})))


def change_settings(uow: UnitOfWork, cmd: c.ChangeCampaignSettings) -> None:
    s = uow.campaign(cmd.campaign_id)
    current: dict[str, Any] = {
        "name": s.name, "goal": s.goal, "difficulty": s.difficulty,
        "content_pack_priority": s.content_pack_priority, "house_rules": s.house_rules,
        "narration_enabled": s.narration.enabled, "tts_voice": s.narration.voice,
    }
    changed = {k: v for k, v in cmd.model_dump(exclude={"kind", "campaign_id"}).items()
               if v is not None and v != current[k]}
    if changed:   # nothing new: a no-op that appends nothing
        uow.emit("campaign", cmd.campaign_id, ev.CampaignSettingsChanged(**changed))


def leave_party(uow: UnitOfWork, cmd: c.LeaveParty) -> None:
    s = uow.campaign(cmd.campaign_id)
    member = s.party.get(cmd.character_id)
    if member is None or not member.active:
        raise UnknownEntity(f"character {cmd.character_id!r} is not in the party")
    uow.emit("campaign", cmd.campaign_id,
             ev.PartyMemberLeft(character_id=cmd.character_id, reason=cmd.reason))


def start_session(uow: UnitOfWork, cmd: c.StartSession) -> None:
    s = uow.campaign(cmd.campaign_id)
    if s.session_active:
        raise RuleViolation(f"session {s.session_number} is still running")
    uow.emit("campaign", cmd.campaign_id, ev.SessionStarted(
        session_number=s.session_number + 1, started_at=cmd.started_at))


def end_session(uow: UnitOfWork, cmd: c.EndSession) -> None:
    s = uow.campaign(cmd.campaign_id)
    if not s.session_active:
        raise RuleViolation("no session is running")
    uow.emit("campaign", cmd.campaign_id,
             ev.SessionEnded(session_number=s.session_number, summary=cmd.summary))


def change_location(uow: UnitOfWork, cmd: c.ChangeLocation) -> None:
    s = uow.campaign(cmd.campaign_id)
    if s.location and (s.location.name, s.location.description) == (cmd.name, cmd.description):
        return
    uow.emit("campaign", cmd.campaign_id, ev.LocationChanged(
        name=cmd.name, description=cmd.description,
        previous_name=s.location.name if s.location else None))


def record_npc(uow: UnitOfWork, cmd: c.RecordNpc) -> None:
    s = uow.campaign(cmd.campaign_id)
    uow.check_ref(cmd.monster_ref, ("monsters",), f"npc {cmd.npc_id}")
    known = s.npcs.get(cmd.npc_id)
    fields = cmd.model_dump(exclude={"kind", "campaign_id", "npc_id"}, exclude_none=True)
    if known is None:
        if not cmd.name:
            raise InvalidCommand(f"npc {cmd.npc_id!r} is new: a name is required")
    else:
        have = known.model_dump(mode="json")
        fields = {k: v for k, v in fields.items() if have.get(k) != v}
        if not fields:
            return
    uow.emit("campaign", cmd.campaign_id, ev.NpcRecorded(npc_id=cmd.npc_id, **fields))


def add_quest(uow: UnitOfWork, cmd: c.AddQuest) -> None:
    s = uow.campaign(cmd.campaign_id)
    if cmd.quest_id in s.quests:
        raise EntityExists(f"quest {cmd.quest_id!r} already exists")
    uow.emit("campaign", cmd.campaign_id, ev.QuestAdded(
        quest_id=cmd.quest_id, title=cmd.title, description=cmd.description, status=cmd.status))


def update_quest(uow: UnitOfWork, cmd: c.UpdateQuest) -> None:
    s = uow.campaign(cmd.campaign_id)
    quest = s.quests.get(cmd.quest_id)
    if quest is None:
        raise UnknownEntity(f"unknown quest {cmd.quest_id!r}")
    status_to = cmd.status if cmd.status != quest.status else None
    rest = {k: v for k, v in cmd.model_dump(
        include={"objectives_completed", "objectives_total", "description", "rewards"},
        exclude_none=True).items() if getattr(quest, k) != v}
    if status_to is None and not rest:
        return
    uow.emit("campaign", cmd.campaign_id, ev.QuestUpdated(
        quest_id=cmd.quest_id, status_from=quest.status if status_to else None,
        status_to=status_to, **rest))


def record_lore(uow: UnitOfWork, cmd: c.RecordLore) -> None:
    uow.campaign(cmd.campaign_id)
    uow.emit("campaign", cmd.campaign_id,
             ev.LoreRecorded(kind=cmd.lore_kind, text=cmd.text, keywords=cmd.keywords))


def append_message(uow: UnitOfWork, cmd: c.AppendMessage) -> None:
    s = uow.campaign(cmd.campaign_id)
    if any(m.message_id == cmd.message_id for m in s.recent_messages):
        raise EntityExists(f"message {cmd.message_id!r} already exists")
    uow.emit("campaign", cmd.campaign_id, ev.MessageAppended.model_validate(
        cmd.model_dump(exclude={"kind", "campaign_id"})))


def supersede_message(uow: UnitOfWork, cmd: c.SupersedeMessage) -> None:
    s = uow.campaign(cmd.campaign_id)
    ref = next((m for m in s.recent_messages if m.message_id == cmd.message_id), None)
    if ref is None:
        raise UnknownEntity(
            f"message {cmd.message_id!r} is not among the last {len(s.recent_messages)} "
            "messages (only recent messages can be superseded)")
    if not ref.superseded:
        uow.emit("campaign", cmd.campaign_id,
                 ev.MessageSuperseded(message_id=cmd.message_id, reason=cmd.reason))


def _require_party(s: Any, character_ids: list[str]) -> None:
    for cid in character_ids:
        if cid not in s.party or not s.party[cid].active:
            raise UnknownEntity(f"unknown character {cid!r} (not in the party)")


def request_dice_roll(uow: UnitOfWork, cmd: c.RequestDiceRoll) -> None:
    s = uow.campaign(cmd.campaign_id)
    if cmd.request_id in s.pending_dice:
        raise EntityExists(f"dice request {cmd.request_id!r} is already pending")
    _require_party(s, cmd.character_ids)
    uow.emit("campaign", cmd.campaign_id, ev.DiceRollRequested.model_validate(
        cmd.model_dump(exclude={"kind", "campaign_id"})))


def record_dice_roll(uow: UnitOfWork, cmd: c.RecordDiceRoll) -> None:
    s = uow.campaign(cmd.campaign_id)
    if cmd.request_id is not None and cmd.request_id not in s.pending_dice:
        raise UnknownEntity(f"no pending dice request {cmd.request_id!r}")
    total = sum(cmd.rolls) + cmd.modifier
    uow.emit("campaign", cmd.campaign_id, ev.DiceRolled(
        request_id=cmd.request_id, roller_id=cmd.roller_id, roller_kind=cmd.roller_kind,
        roll_type=cmd.roll_type, formula=cmd.formula, rolls=cmd.rolls, modifier=cmd.modifier,
        total=total, dc=cmd.dc, success=None if cmd.dc is None else total >= cmd.dc,
        purpose=cmd.purpose))
    if cmd.request_id is not None:
        uow.emit("campaign", cmd.campaign_id,
                 ev.DiceRequestsCleared(request_ids=[cmd.request_id], reason="fulfilled"))


def clear_dice_requests(uow: UnitOfWork, cmd: c.ClearDiceRequests) -> None:
    s = uow.campaign(cmd.campaign_id)
    pending = [rid for rid in cmd.request_ids if rid in s.pending_dice]
    if pending:
        uow.emit("campaign", cmd.campaign_id,
                 ev.DiceRequestsCleared(request_ids=pending, reason=cmd.reason))
