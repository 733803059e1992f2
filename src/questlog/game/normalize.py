"""Tolerant reading of game events: every accepted shape of a payload → its canonical form.

Strict on commands, tolerant on recorded events. A recorded event is a fact, often
written by code that is not ours (an AI game master following the domain note), so the
fold and every projector read game events only through `canonical_data`:

1. upcast to the current schema version (`registry.upcast`);
2. rewrite the shapes the domain note leaves open into the one questlog writes (a ref
   given as a bare index or a name, `source` as text or as an object, `delta_gp`,
   `damage_dice`, a flat `CombatantJoined`, grouped proficiencies, ... — the full list
   is docs/game-events.md);
3. fill the stream's own entity id from the stream id when it is absent
   (`campaign-7` → `campaign_id` "7");
4. validate against the event model with unknown fields ignored (they stay in the log),
   missing optional fields taking their defaults, and dump the model: the result always
   has every field of the model, in the shape questlog itself writes.

A payload that is still unreadable after that raises `PoisonEvent` (reading) or
`InvalidEventPayload` (the generic append, `check_append`) — never KeyError or
ValidationError. Both name the event, the field and what was expected.

The rewrites only recognise shapes; anything else passes through untouched so that the
model's validation reports it.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from ..errors import InvalidEventPayload, PoisonEvent
from ..events import RecordedEvent
from .event_base import GAME_CATEGORIES
from .refs import coerce_ref as ref
from .refs import display_name as _display
from .refs import slugify
from .registry import EVENT_MODELS, UnknownGameEvent, upcast

D = dict[str, Any]
#: The entity id each creating event can take from its own stream id.
OWN_ID: dict[str, str] = {"CampaignCreated": "campaign_id", "CharacterCreated": "character_id",
                          "EncounterStarted": "encounter_id"}


ID_TEXT = "an id (a letter or digit, then letters, digits and _ . : @ -; at most 100)"


class _Unreadable(Exception):
    """What is wrong with a payload (internal: turned into PoisonEvent or InvalidEventPayload)."""


def canonical_data(event_type: str, schema_version: int, data: Any, *,
                   stream_id: str | None = None, position: int | None = None) -> D:
    """The canonical payload of a recorded event (events of unknown types: `data` as is).

    Raises PoisonEvent when the payload cannot be read even tolerantly.
    """
    if event_type not in EVENT_MODELS:
        return data if isinstance(data, dict) else {}
    try:
        return _canonical(event_type, schema_version, data, stream_id)
    except _Unreadable as exc:
        where = f" at position {position}" if position else ""
        on = f" on {stream_id}" if stream_id else ""
        raise PoisonEvent(f"recorded {event_type}{where}{on} cannot be read: {exc}",
                          event_type=event_type, stream_id=stream_id,
                          position=position or None) from None


def canonical_of(event: Any) -> D:
    """`canonical_data` of a recorded event (a `RecordedEvent`, or anything with its
    type, schema_version, data, stream_id and position), computed once per event: a
    `RecordedEvent` keeps it (`RecordedEvent.canonical`, which the planner fills from the
    append check), so every projector folding the event shares one reading.

    Shared, so a fold handler or projector must never change the payload it is handed
    (tests/game/test_canonical_once.py). An unreadable payload is not kept: each reader
    raises its own PoisonEvent, as when each read it apart.
    """
    known: D | None = getattr(event, "canonical", None)
    if known is not None:
        return known
    data = canonical_data(event.type, event.schema_version, event.data,
                          stream_id=event.stream_id, position=event.position)
    if type(event) is RecordedEvent:
        event.canonical = data
    return data


def check_append(stream_id: str, category: str, event_type: str, schema_version: int,
                 data: Any) -> D | None:
    """Refuse (InvalidEventPayload) a known game event that would be unreadable on `stream_id`.

    Only game streams are checked; events of types the game does not know pass (None).
    Returns the canonical payload the check computed (what `canonical_data` gives for
    this event on this stream), for the planner to hand on with the recorded event.
    """
    model = EVENT_MODELS.get(event_type)
    if category not in GAME_CATEGORIES or model is None:
        return None
    if model.category != category:
        article = "an" if model.category[0] in "aeiou" else "a"
        raise InvalidEventPayload(
            f"{event_type} is {article} {model.category} event: append it to a "
            f"{model.category}-<id> stream, not to {stream_id!r}")
    try:
        return _canonical(event_type, schema_version, data, stream_id)
    except _Unreadable as exc:
        raise InvalidEventPayload(f"{event_type} on {stream_id}: {exc}") from None


def _canonical(event_type: str, schema_version: int, data: Any, stream_id: str | None) -> D:
    model = EVENT_MODELS[event_type]
    if not isinstance(data, dict):
        raise _Unreadable(f"data: expected a JSON object, found {_short(data)}")
    try:
        shaped = dict(upcast(event_type, schema_version, data))
    except UnknownGameEvent as exc:
        raise _Unreadable(str(exc)) from None
    reshape = RESHAPERS.get(event_type)
    if reshape is not None:
        reshape(shaped)
    own = OWN_ID.get(event_type)
    if own is not None and not shaped.get(own) and stream_id:
        prefix, _, entity = stream_id.partition("-")
        if prefix == model.category and entity:
            shaped[own] = entity
    try:
        event = model.model_validate(shaped, extra="ignore")
    except ValidationError as exc:
        raise _Unreadable(_problems(model, exc)) from None
    return event.payload()


# --- problems ------------------------------------------------------------------------------

def _problems(model: type[BaseModel], exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "data"
        if err["type"] == "missing":
            parts.append(f"{loc}: missing (expected {_expected(model, err['loc'])})")
        elif err["type"] == "string_pattern_mismatch":
            parts.append(f"{loc}: expected {ID_TEXT}, found {_short(err.get('input'))}")
        else:
            parts.append(f"{loc}: {err['msg']} (found {_short(err.get('input'))})")
    more = len(exc.errors()) - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _expected(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """A short description of the field at `loc` (what a missing field should have been)."""
    current: Any = model
    field = None
    for part in loc:
        if isinstance(part, int):
            continue
        nested = _model_in(current)
        if nested is None:
            return "a value"
        field = nested.model_fields.get(part) or next(
            (f for f in nested.model_fields.values() if f.alias == part), None)
        if field is None:
            return "a value"
        current = field.annotation
    if field is None:
        return "a value"
    if any(getattr(m, "pattern", None) for m in field.metadata) or _is_id(current):
        return ID_TEXT
    return _describe(current)


def _is_id(annotation: Any) -> bool:
    return any(getattr(m, "pattern", None) for m in getattr(annotation, "__metadata__", ()))


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _describe(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in get_args(annotation) if a is not type(None))
    if origin is list:
        return "a list"
    if origin is dict:
        return "an object"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        required = [n for n, f in annotation.model_fields.items() if f.is_required()]
        return "an object" + (f" with {', '.join(required)}" if required else "")
    names = {str: "text", int: "an integer", float: "a number", bool: "true or false"}
    return names.get(origin or annotation, "a value")


# --- shapes --------------------------------------------------------------------------------

def refs(value: Any, type_: str, *, condition: bool = False) -> Any:
    """A list of refs; one ref (or name) alone counts as a list of one."""
    if isinstance(value, str | dict):
        value = [value]
    if isinstance(value, list):
        return [r for r in (ref(v, type_, condition=condition) for v in value) if r is not None]
    return value


def text_of(value: Any, prefer: Literal["index", "name"]) -> Any:
    """Free text where a ref may be given instead (damage types, languages, ...)."""
    if isinstance(value, dict):
        other = "name" if prefer == "index" else "index"
        got = value.get(prefer) or value.get(other)
        return got if isinstance(got, str) else value
    return value


def texts_of(value: Any, prefer: Literal["index", "name"]) -> Any:
    if isinstance(value, str | dict):
        value = [value]
    return [text_of(v, prefer) for v in value] if isinstance(value, list) else value


def source_object(value: Any) -> Any:
    """`source` where the model keeps an object: free text becomes its description."""
    if isinstance(value, str):
        return {"description": value[:500]} if value.strip() else None
    return value


def source_text(value: Any) -> Any:
    """`source` where the model keeps text: an object gives its description, else who/what."""
    if isinstance(value, dict):
        described = value.get("description")
        if isinstance(described, str) and described:
            return described
        parts = [value.get(k) for k in ("attacker_name", "weapon_or_spell", "attacker_id",
                                        "name", "kind", "type")]
        return " / ".join(p for p in parts if isinstance(p, str) and p)
    if value is None:
        return ""
    return value


def coins(value: Any) -> Any:
    """An amount of gold (gp, fractions allowed) as per-coin amounts: 1.25 → {gp: 1, sp: 2,
    cp: 5}; coins that are zero are left out. Per-coin amounts may say `gold` for `gp`.
    Other values pass through."""
    if isinstance(value, dict) and "gold" in value and "gp" not in value:
        return {("gp" if k == "gold" else k): v for k, v in value.items()}
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    try:
        cp = int((Decimal(str(value)) * 100).to_integral_value(ROUND_HALF_EVEN))
    except (InvalidOperation, ValueError):
        return value
    sign, rest = (-1 if cp < 0 else 1), abs(cp)
    gp, rest = divmod(rest, 100)
    sp, cp = divmod(rest, 10)
    return {coin: sign * n for coin, n in (("gp", gp), ("sp", sp), ("cp", cp)) if n}


def feature(value: Any) -> Any:
    """A feature: `{name, description?, level?, ref?}`, a content ref, or a name / index.

    A bare string cannot say which content type it is (class feature, racial trait,
    feat), so it becomes a named feature without a ref.
    """
    if isinstance(value, str):
        return {"name": _display(value.strip())} if value.strip() else value
    if not isinstance(value, dict):
        return value
    if "ref" in value or ("index" not in value and "type" not in value):
        out = dict(value)
        if "ref" in out:
            out["ref"] = ref(out["ref"], "features")
            if not out.get("name") and isinstance(out["ref"], dict):
                out["name"] = _ref_name(out["ref"])
        return out
    as_ref = ref(value, "features")
    out = {"name": _ref_name(as_ref), "ref": as_ref}
    out.update({k: value[k] for k in ("description", "level") if k in value})
    return out


def _ref_name(r: D) -> Any:
    name = r.get("name")
    if name:
        return name
    index = r.get("index")
    return index.replace("-", " ").title() if isinstance(index, str) else None


def item(value: Any) -> Any:
    """An inventory item: the Item object, a content ref (or 5e-database's `{equipment,
    quantity}`), or a bare name / index. A missing `item_id` is the ref's index or the
    slug of the name."""
    if isinstance(value, str):
        text = value.strip()
        return {"item_id": slugify(text), "name": _display(text)} if text else value
    if not isinstance(value, dict):
        return value
    out = dict(value)
    if "equipment" in out and "content_ref" not in out:
        out["content_ref"] = out.pop("equipment")
    elif "index" in out and "content_ref" not in out and "item_id" not in out:
        out = {"content_ref": {k: out[k] for k in ("type", "index", "name") if k in out},
               **{k: v for k, v in out.items() if k not in ("type", "index", "name", "url")}}
    if "content_ref" in out:
        out["content_ref"] = ref(out["content_ref"], "equipment")
    content = out.get("content_ref")
    if not out.get("name") and isinstance(content, dict):
        out["name"] = _ref_name(content)
    if not out.get("item_id"):
        if isinstance(content, dict) and isinstance(content.get("index"), str):
            out["item_id"] = content["index"]
        elif isinstance(out.get("name"), str) and out["name"].strip():
            out["item_id"] = slugify(out["name"])
    return out


def attack(value: Any) -> Any:
    """A monster attack: `damage` or `damage_dice`, 5e-database damage entries, a ref as
    the damage type, `attack_bonus` for `to_hit`."""
    if isinstance(value, str):
        return {"name": value}
    if not isinstance(value, dict):
        return value
    out = dict(value)
    if out.get("damage") is None and out.get("damage_dice") is not None:
        out["damage"] = out["damage_dice"]
    damage = out.get("damage")
    if isinstance(damage, dict):
        damage = [damage]
    if isinstance(damage, list):
        entries = [d for d in damage if isinstance(d, dict)]
        dice = [d["damage_dice"] for d in entries if isinstance(d.get("damage_dice"), str)]
        out["damage"] = " + ".join(dice) or None
        kinds = [text_of(d["damage_type"], "index") for d in entries if d.get("damage_type")]
        if out.get("damage_type") is None and kinds:
            out["damage_type"] = kinds[0]
    if out.get("to_hit") is None and out.get("attack_bonus") is not None:
        out["to_hit"] = out["attack_bonus"]
    if "damage_type" in out:
        out["damage_type"] = text_of(out["damage_type"], "index")
    return out


def combatant(value: Any) -> Any:
    """A combatant spec: `id` for `combatant_id`, refs or names for monster_ref, defences
    and conditions, attacks as `attack` reads them."""
    if not isinstance(value, dict):
        return value
    out = dict(value)
    if not out.get("combatant_id") and isinstance(out.get("id"), str):
        out["combatant_id"] = out["id"]
    if "monster_ref" in out:
        out["monster_ref"] = ref(out["monster_ref"], "monsters")
    if isinstance(out.get("attacks"), list):
        out["attacks"] = [attack(a) for a in out["attacks"]]
    for key in ("resistances", "vulnerabilities", "condition_immunities"):
        if key in out:
            out[key] = texts_of(out[key], "index")
    if "conditions" in out:
        out["conditions"] = refs(out["conditions"], "conditions", condition=True)
    return out


_PROFICIENCY_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("armor", ("armor", "armour")), ("weapons", ("weapons",)), ("tools", ("tools",)),
    ("saving_throws", ("saving_throws", "saving throws", "savingThrows", "saves")),
    ("skills", ("skills",)),
)


def proficiencies(value: Any) -> Any:
    """One flat list of display names, from itself or from groups by kind (armour, weapons,
    tools, saving throws, skills; other groups follow in their order). Saving throws given
    as an ability ("DEX") become 5e-database's "Saving Throw: DEX"."""
    if isinstance(value, list):
        return [text_of(v, "name") for v in value]
    if not isinstance(value, dict):
        return value
    flat: list[Any] = []
    used: set[str] = set()
    for kind, keys in _PROFICIENCY_GROUPS:
        for key in keys:
            if key in value:
                used.add(key)
                flat.extend(_proficiency(kind, v) for v in texts_of(value[key], "name"))
    for key, group in value.items():
        if key not in used:
            flat.extend(texts_of(group, "name"))
    return flat


def _proficiency(kind: str, name: Any) -> Any:
    if kind == "saving_throws" and isinstance(name, str) and len(name.strip()) == 3:
        return f"Saving Throw: {name.strip().upper()}"
    return name


# --- per event type ------------------------------------------------------------------------

def _set(d: D, key: str, fn: Callable[[Any], Any]) -> None:
    if key in d:
        d[key] = fn(d[key])


def _npc_recorded(d: D) -> None:
    _set(d, "monster_ref", lambda v: ref(v, "monsters"))


def _quest_updated(d: D) -> None:
    rewards = d.get("rewards")
    if isinstance(rewards, dict) and "items" in rewards:
        d["rewards"] = {**rewards, "items": texts_of(rewards["items"], "name")}


def _dice_requested(d: D) -> None:
    if "character_ids" not in d and isinstance(d.get("character_id"), str):
        d["character_ids"] = [d["character_id"]]
    _set(d, "character_ids", lambda v: [v] if isinstance(v, str) else v)


_CHARACTER_REFS = {"race": "races", "subrace": "subraces", "class": "classes",
                   "class_": "classes", "subclass": "subclasses", "background": "backgrounds",
                   "alignment": "alignments"}


def _character_created(d: D) -> None:
    for key, type_ in _CHARACTER_REFS.items():
        if key in d:
            d[key] = ref(d[key], type_)
    _set(d, "features", lambda v: [feature(f) for f in v] if isinstance(v, list) else v)
    _set(d, "spells_known", lambda v: refs(v, "spells"))
    _set(d, "cantrips_known", lambda v: refs(v, "spells"))
    _set(d, "proficiencies", proficiencies)
    _set(d, "languages", lambda v: texts_of(v, "name"))
    _set(d, "inventory", lambda v: [item(i) for i in v] if isinstance(v, list) else v)


def _hit_points(d: D) -> None:
    _set(d, "source", source_object)
    if d.get("source") is None:
        d.pop("source", None)
    _set(d, "damage_type", lambda v: text_of(v, "index"))


def _condition_applied(d: D) -> None:
    _set(d, "condition", lambda v: ref(v, "conditions", condition=True))
    _set(d, "source", lambda v: source_text(v) or None)


def _condition_removed(d: D) -> None:
    _set(d, "condition", lambda v: ref(v, "conditions", condition=True))


def _item_added(d: D) -> None:
    d.update(item(d))
    _set(d, "source", source_text)


def _currency_changed(d: D) -> None:
    if d.get("delta") is None and "delta_gp" in d:
        d["delta"] = d["delta_gp"]
    _set(d, "delta", coins)
    _set(d, "balance_after", coins)
    _set(d, "source", source_text)


def _spell_slot(d: D) -> None:
    _set(d, "spell", lambda v: ref(v, "spells"))


_XP_SOURCES = ("encounter", "quest", "milestone", "other")


def _experience(d: D) -> None:
    value = d.get("source")
    if isinstance(value, dict):
        value = value.get("kind") or value.get("type")
    if "source" in d:
        d["source"] = value.lower() if isinstance(value, str) and value.lower() in _XP_SOURCES \
            else "other"


def _level_gained(d: D) -> None:
    _set(d, "features_gained", lambda v: [feature(f) for f in v] if isinstance(v, list) else v)
    _set(d, "subclass", lambda v: ref(v, "subclasses"))


def _encounter_started(d: D) -> None:
    _set(d, "combatants", lambda v: [combatant(c) for c in v] if isinstance(v, list) else v)


def _combatant_joined(d: D) -> None:
    if "combatant" not in d:   # flat: the combatant's fields beside `reason`
        spec = {k: v for k, v in d.items() if k != "reason"}
        for key in spec:
            del d[key]
        d["combatant"] = spec
    d["combatant"] = combatant(d["combatant"])


def _conditions_changed(d: D) -> None:
    _set(d, "added", lambda v: refs(v, "conditions", condition=True))
    _set(d, "removed", lambda v: refs(v, "conditions", condition=True))


RESHAPERS: dict[str, Callable[[D], None]] = {
    "NpcRecorded": _npc_recorded,
    "QuestUpdated": _quest_updated, "DiceRollRequested": _dice_requested,
    "CharacterCreated": _character_created, "DamageTaken": _hit_points,
    "HealingReceived": _hit_points, "TemporaryHitPointsSet": _hit_points,
    "ConditionApplied": _condition_applied, "ConditionRemoved": _condition_removed,
    "ItemAdded": _item_added, "CurrencyChanged": _currency_changed,
    "SpellSlotExpended": _spell_slot, "ExperienceGained": _experience,
    "LevelGained": _level_gained, "EncounterStarted": _encounter_started,
    "CombatantJoined": _combatant_joined, "CombatantHitPointsChanged": _hit_points,
    "CombatantConditionsChanged": _conditions_changed,
}
