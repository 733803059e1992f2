"""Pure folds: aggregate state from a stream's events (read through normalize.py).

Each handler mutates the state in place and trusts the payload: `apply_event` hands
it the canonical form (`normalize.canonical_of`: upcast, variants rewritten, every
field present). That payload is read once per event and shared by every fold of it
(each inline projector's): a handler never changes `d`, nor keeps a list or dict of it
in the state (it copies them). A recorded event that cannot be read, or that names
something the stream never had, raises PoisonEvent, never KeyError. The encounter's turn order is
recomputed here (initiative desc, modifier desc, id) so it is a fold, never stored as such.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from ..errors import PoisonEvent
from . import rules
from .events_campaign import CampaignCreated, MessageAppended, Narration, Place
from .events_character import AbilityScores, CharacterCreated, Feature, Item, Purse
from .normalize import canonical_of
from .refs import ContentRef
from .state import (
    RECENT_MESSAGES,
    AppliedCondition,
    CampaignState,
    CharacterState,
    Combatant,
    DeathSaves,
    DiceRequest,
    EncounterState,
    MessageRef,
    Npc,
    PartyMember,
    Quest,
)

S = TypeVar("S", CampaignState, CharacterState, EncounterState)
D = dict[str, Any]


class EventLike(Protocol):
    """What a fold needs of an event (RecordedEvent fits)."""

    @property
    def type(self) -> str: ...
    @property
    def schema_version(self) -> int: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def stream_version(self) -> int: ...
    @property
    def position(self) -> int: ...
    @property
    def recorded_at(self) -> str: ...
    @property
    def stream_id(self) -> str: ...


def _ref(value: Any) -> ContentRef | None:
    return None if value is None else ContentRef.model_validate(value)


# --- campaign ---------------------------------------------------------------------------

def _campaign_created(s: CampaignState, d: D) -> None:
    # Fields the payload leaves out take the event model's defaults (the one place for them).
    e = CampaignCreated.model_construct(**d)
    s.exists = True
    s.campaign_id = e.campaign_id
    s.name = e.name
    s.template_id = e.template_id
    s.goal = e.goal
    start = e.starting_location
    s.location = None if start is None else Place.model_validate(start)
    s.difficulty = e.difficulty
    s.ruleset_id = e.ruleset_id
    s.lore_id = e.lore_id
    s.xp_system = e.xp_system
    s.house_rules = copy.deepcopy(e.house_rules or {})   # its values may nest (Any)
    s.content_pack_priority = list(e.content_pack_priority or [])
    s.narration = Narration.model_validate(e.narration or {})


def _settings_changed(s: CampaignState, d: D) -> None:
    for key in ("name", "goal", "difficulty"):
        if d.get(key) is not None:
            setattr(s, key, d[key])
    # Copies: the payload is shared by every fold of the event (see the module docstring).
    if d.get("content_pack_priority") is not None:
        s.content_pack_priority = list(d["content_pack_priority"])
    if d.get("house_rules") is not None:
        s.house_rules = copy.deepcopy(d["house_rules"])
    if d.get("narration_enabled") is not None:
        s.narration.enabled = d["narration_enabled"]
    if d.get("tts_voice") is not None:
        s.narration.voice = d["tts_voice"]


def _member_joined(s: CampaignState, d: D) -> None:
    s.party[d["character_id"]] = PartyMember(
        character_id=d["character_id"], name=d["name"], level=d["level"],
        template_id=d.get("template_id"))


def _member_left(s: CampaignState, d: D) -> None:
    member = s.party.get(d["character_id"])
    if member is not None:
        member.active = False


def _session_started(s: CampaignState, d: D) -> None:
    s.session_number = d["session_number"]
    s.session_active = True


def _session_ended(s: CampaignState, d: D) -> None:
    s.session_active = False


def _location_changed(s: CampaignState, d: D) -> None:
    s.location = Place(name=d["name"], description=d.get("description") or "")


def _npc_recorded(s: CampaignState, d: D) -> None:
    npc = s.npcs.get(d["npc_id"])
    if npc is None:
        npc = s.npcs[d["npc_id"]] = Npc(npc_id=d["npc_id"], name=d.get("name") or d["npc_id"])
    for key in ("name", "description", "last_location", "attitude"):
        if d.get(key) is not None:
            setattr(npc, key, d[key])
    if d.get("monster_ref") is not None:
        npc.monster_ref = _ref(d["monster_ref"])


def _quest_added(s: CampaignState, d: D) -> None:
    s.quests[d["quest_id"]] = Quest(quest_id=d["quest_id"], title=d["title"],
                                    description=d.get("description", ""),
                                    status=d.get("status", "active"))


def _quest_updated(s: CampaignState, d: D) -> None:
    quest = s.quests[d["quest_id"]]
    if d.get("status_to") is not None:
        quest.status = d["status_to"]
    for key in ("objectives_completed", "objectives_total", "description"):
        if d.get(key) is not None:
            setattr(quest, key, d[key])
    if d.get("rewards") is not None:
        quest.rewards = copy.deepcopy(d["rewards"])   # a copy: the payload is shared


def _lore_recorded(s: CampaignState, d: D) -> None:
    s.lore_count += 1


def message_of(d: D) -> MessageAppended:
    """A chat message with the event model's defaults for what the payload leaves out
    (the chat read model takes its rows from here too)."""
    return MessageAppended.model_construct(**d)


def _message_appended(s: CampaignState, d: D) -> None:
    m = message_of(d)
    s.message_count += 1
    s.recent_messages.append(MessageRef(message_id=m.message_id, role=m.role))
    if len(s.recent_messages) > RECENT_MESSAGES:
        del s.recent_messages[: len(s.recent_messages) - RECENT_MESSAGES]


def _message_superseded(s: CampaignState, d: D) -> None:
    for ref in s.recent_messages:
        if ref.message_id == d["message_id"]:
            ref.superseded = True


def _dice_requested(s: CampaignState, d: D) -> None:
    s.pending_dice[d["request_id"]] = DiceRequest.model_validate(d)


def _dice_rolled(s: CampaignState, d: D) -> None:
    s.dice_rolled += 1


def _dice_cleared(s: CampaignState, d: D) -> None:
    for request_id in d["request_ids"]:
        s.pending_dice.pop(request_id, None)


# --- character --------------------------------------------------------------------------

def _character_created(s: CharacterState, d: D) -> None:
    # Fields the payload leaves out take the event model's defaults (the one place for them).
    e = CharacterCreated.model_construct(**d)
    s.exists = True
    s.character_id = e.character_id
    s.campaign_id = e.campaign_id
    s.template_id = e.template_id
    s.name = e.name
    for key in ("race", "subrace", "class_", "subclass", "background", "alignment"):
        setattr(s, key, _ref(getattr(e, key)))
    s.level = e.level
    s.ability_scores = AbilityScores.model_validate(e.ability_scores or {})
    s.proficiencies = list(e.proficiencies or [])
    s.languages = list(e.languages or [])
    s.features = [Feature.model_validate(f) for f in e.features or []]
    s.spells_known = [ContentRef.model_validate(r) for r in e.spells_known or []]
    s.cantrips_known = [ContentRef.model_validate(r) for r in e.cantrips_known or []]
    s.max_hp = e.max_hp
    s.current_hp = min(e.current_hp, e.max_hp)
    s.hit_die = e.hit_die
    s.spell_slots_max = dict(e.spell_slots_max or {})
    items = [Item.model_validate(i) for i in e.inventory or []]   # raw: model_construct
    s.inventory = {i.item_id: i for i in items}
    s.purse = Purse(gp=e.gold)


def _details_changed(s: CharacterState, d: D) -> None:
    for key in ("name", "notes", "appearance"):
        if d.get(key) is not None:
            setattr(s, key, d[key])
    if d.get("relationships"):
        s.relationships.update(d["relationships"])
    s.achievements.extend(d.get("achievements_added") or [])


def _damage_taken(s: CharacterState, d: D) -> None:
    absorbed = d.get("temp_hp_absorbed", 0)
    s.temp_hp = max(0, s.temp_hp - absorbed)
    s.current_hp = d["hp_after"]
    if s.current_hp > 0:
        s.stable = False
    elif rules.killed_outright(d["amount"] - absorbed - d["hp_before"], s.max_hp):
        s.dead = True


def _healing_received(s: CharacterState, d: D) -> None:
    s.current_hp = d["hp_after"]
    if s.current_hp > 0:
        s.death_saves = DeathSaves()
        s.stable = False


def _temp_hp_set(s: CharacterState, d: D) -> None:
    s.temp_hp = d["amount"]


def _condition_applied(s: CharacterState, d: D) -> None:
    ref = ContentRef.model_validate(d["condition"])
    s.conditions[ref.index] = AppliedCondition(
        condition=ref, duration=d.get("duration"), source=d.get("source"),
        encounter_id=d.get("encounter_id"))


def _condition_removed(s: CharacterState, d: D) -> None:
    s.conditions.pop(d["condition"]["index"], None)


def _exhaustion_changed(s: CharacterState, d: D) -> None:
    s.exhaustion = d["level_after"]
    if s.exhaustion >= 6:
        s.dead = True
        s.current_hp = 0


def _death_save(s: CharacterState, d: D) -> None:
    result = d["result"]
    if result == "revived":
        s.death_saves = DeathSaves()
        s.current_hp = max(s.current_hp, 1)
        s.stable = False
        return
    s.death_saves = DeathSaves(successes=d["successes"], failures=d["failures"])
    # Damage taken while stable is a failed save that ends the stability ("ongoing").
    s.stable = result == "stable"
    if result == "dead":
        s.dead = True


def _item_added(s: CharacterState, d: D) -> None:
    held = s.inventory.get(d["item_id"])
    if held is not None:
        held.quantity += d.get("quantity", 1)
        return
    s.inventory[d["item_id"]] = Item.model_validate(
        {k: d.get(k) for k in ("item_id", "name", "description", "quantity", "content_ref",
                               "value_gp", "rarity") if d.get(k) is not None})


def _item_removed(s: CharacterState, d: D) -> None:
    held = s.inventory[d["item_id"]]
    held.quantity -= d["quantity"]
    if held.quantity <= 0:
        del s.inventory[d["item_id"]]


def _currency_changed(s: CharacterState, d: D) -> None:
    s.purse = Purse.model_validate(d["balance_after"])


def _slot_expended(s: CharacterState, d: D) -> None:
    key = str(d["slot_level"])
    s.spell_slots_used[key] = s.spell_slots_used.get(key, 0) + 1


def _rest_taken(s: CharacterState, d: D) -> None:
    s.hit_dice_used = max(0, s.hit_dice_used + d.get("hit_dice_spent", 0)
                          - d.get("hit_dice_regained", 0))
    s.current_hp = min(s.max_hp, s.current_hp + d.get("hp_recovered", 0))
    for key, n in (d.get("slots_restored") or {}).items():
        left = s.spell_slots_used.get(key, 0) - n
        if left > 0:
            s.spell_slots_used[key] = left
        else:
            s.spell_slots_used.pop(key, None)
    s.exhaustion = max(0, s.exhaustion - d.get("exhaustion_reduced", 0))
    if d["rest_type"] == "long":
        s.temp_hp = 0
        s.death_saves = DeathSaves()
        s.stable = False


def _xp_gained(s: CharacterState, d: D) -> None:
    s.xp = d["total_after"]


def _level_gained(s: CharacterState, d: D) -> None:
    s.level = d["level_after"]
    s.max_hp = d["max_hp_after"]
    s.current_hp = min(s.max_hp, s.current_hp + d["hp_gained"])
    s.features.extend(Feature.model_validate(f) for f in d.get("features_gained") or [])
    if d.get("subclass") is not None:
        s.subclass = _ref(d["subclass"])
    if d.get("spell_slots_max_after"):
        s.spell_slots_max = dict(d["spell_slots_max_after"])


# --- encounter --------------------------------------------------------------------------

def order_key(c: Combatant) -> tuple[int, int, int, str]:
    # Not-yet-rolled combatants go last; ties: higher modifier first, then id.
    rolled = 0 if c.initiative is not None else 1
    return (rolled, -(c.initiative or 0), -c.initiative_modifier, c.combatant_id)


def _reorder(s: EncounterState) -> None:
    present = [c for cid, c in s.combatants.items() if cid not in s.left]
    s.turn_order = [c.combatant_id for c in sorted(present, key=order_key)]
    if s.current_combatant_id in s.turn_order:
        s.turn_index = s.turn_order.index(s.current_combatant_id)


def _add_combatant(s: EncounterState, spec: D) -> None:
    c = Combatant.model_validate({k: v for k, v in spec.items() if v is not None})
    s.combatants[c.combatant_id] = c
    if c.hp == 0 and c.is_enemy:
        c.defeated = True


def _encounter_started(s: EncounterState, d: D) -> None:
    s.exists = True
    s.status = "active"
    s.encounter_id = d["encounter_id"]
    s.campaign_id = d["campaign_id"]
    s.location = d.get("location", "")
    s.reason = d.get("reason", "")
    for spec in d["combatants"]:
        _add_combatant(s, spec)
    _reorder(s)


def _combatant_joined(s: EncounterState, d: D) -> None:
    _add_combatant(s, d["combatant"])
    _reorder(s)


def _initiative_rolled(s: EncounterState, d: D) -> None:
    c = s.combatants[d["combatant_id"]]
    c.initiative = d["total"]
    c.initiative_modifier = d["modifier"]
    _reorder(s)


def _turn_advanced(s: EncounterState, d: D) -> None:
    s.current_combatant_id = d["combatant_id"]
    s.round = d["round"]
    s.turn_index = s.turn_order.index(d["combatant_id"])


def _hp_changed(s: EncounterState, d: D) -> None:
    c = s.combatants[d["combatant_id"]]
    c.hp = d["hp_after"]


def _conditions_changed(s: EncounterState, d: D) -> None:
    c = s.combatants[d["combatant_id"]]
    removed = {r["index"] for r in d.get("removed") or []}
    kept = [r for r in c.conditions if r.index not in removed]
    have = {r.index for r in kept}
    for r in d.get("added") or []:
        if r["index"] not in have:
            kept.append(ContentRef.model_validate(r))
            have.add(r["index"])
    c.conditions = kept
    c.defeated = bool(d.get("defeated", False))


def _combatant_left(s: EncounterState, d: D) -> None:
    cid = d["combatant_id"]
    was_current = cid == s.current_combatant_id
    old_index = s.turn_index
    s.left[cid] = d["reason"]
    _reorder(s)
    if not was_current:
        return
    # The turn passes to whoever followed the one who left (wrapping into a new round).
    if not s.turn_order:
        s.turn_index, s.current_combatant_id = -1, None
        return
    if old_index >= len(s.turn_order):
        old_index = 0
        s.round += 1
    s.turn_index = old_index
    s.current_combatant_id = s.turn_order[old_index]


def _encounter_ended(s: EncounterState, d: D) -> None:
    s.status = "ended"
    s.outcome = d["outcome"]
    s.xp_awarded = d.get("xp_awarded")
    s.summary = d.get("summary")


Handler = Callable[[Any, D], None]

HANDLERS: dict[str, dict[str, Handler]] = {
    "campaign": {
        "CampaignCreated": _campaign_created, "CampaignSettingsChanged": _settings_changed,
        "PartyMemberJoined": _member_joined, "PartyMemberLeft": _member_left,
        "SessionStarted": _session_started, "SessionEnded": _session_ended,
        "LocationChanged": _location_changed, "NpcRecorded": _npc_recorded,
        "QuestAdded": _quest_added, "QuestUpdated": _quest_updated,
        "LoreRecorded": _lore_recorded, "MessageAppended": _message_appended,
        "MessageSuperseded": _message_superseded, "DiceRollRequested": _dice_requested,
        "DiceRolled": _dice_rolled, "DiceRequestsCleared": _dice_cleared,
    },
    "character": {
        "CharacterCreated": _character_created, "CharacterDetailsChanged": _details_changed,
        "DamageTaken": _damage_taken, "HealingReceived": _healing_received,
        "TemporaryHitPointsSet": _temp_hp_set, "ConditionApplied": _condition_applied,
        "ConditionRemoved": _condition_removed, "ExhaustionChanged": _exhaustion_changed,
        "DeathSaveRecorded": _death_save, "ItemAdded": _item_added,
        "ItemRemoved": _item_removed, "CurrencyChanged": _currency_changed,
        "SpellSlotExpended": _slot_expended, "RestTaken": _rest_taken,
        "ExperienceGained": _xp_gained, "LevelGained": _level_gained,
    },
    "encounter": {
        "EncounterStarted": _encounter_started, "CombatantJoined": _combatant_joined,
        "InitiativeRolled": _initiative_rolled, "TurnAdvanced": _turn_advanced,
        "CombatantHitPointsChanged": _hp_changed,
        "CombatantConditionsChanged": _conditions_changed,
        "CombatantLeft": _combatant_left, "EncounterEnded": _encounter_ended,
    },
}
STATE_TYPES: dict[str, type[Any]] = {
    "campaign": CampaignState, "character": CharacterState, "encounter": EncounterState,
}


def apply_event(state: S, category: str, event: EventLike) -> S:
    """Fold one event into `state` (in place); events of other types are ignored."""
    handler = HANDLERS[category].get(event.type)
    if handler is not None:
        data = canonical_of(event)
        try:
            handler(state, data)
        except (KeyError, IndexError, ValueError) as exc:
            # A readable payload about something this stream never had (an item never
            # added, a combatant never joined): a fact the fold cannot place.
            raise PoisonEvent(
                f"recorded {event.type} at position {event.position} on {event.stream_id} "
                f"cannot be applied: "
                + (f"it names {exc}, which the stream does not hold"
                   if isinstance(exc, KeyError) else str(exc)),
                event_type=event.type, stream_id=event.stream_id,
                position=event.position or None) from None
    state.version = event.stream_version
    if event.position:
        state.position = event.position
    if event.recorded_at:
        state.updated_at = event.recorded_at
    return state


def fold(category: str, events: Iterable[EventLike], state: Any = None) -> Any:
    """The state of a `category` aggregate after `events` (starting from `state`, or empty)."""
    if state is None:
        state = STATE_TYPES[category]()
    for event in events:
        apply_event(state, category, event)
    return state
