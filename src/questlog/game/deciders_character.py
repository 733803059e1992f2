"""Character commands: hit points, conditions, death saves, gear, money, rests, levels.

Functions here take a character id (targets that name a combatant are routed
to these by `deciders.py` when the combatant is a player character).
"""

from __future__ import annotations

from . import commands as c
from . import events_campaign as evc
from . import events_character as ev
from . import rules
from .decider import UnitOfWork
from .errors import EntityExists, InvalidCommand, RuleViolation, UnknownEntity
from .event_base import Source
from .refs import condition_ref
from .state import CharacterState

UNCONSCIOUS = condition_ref("unconscious")


def _alive(s: CharacterState) -> None:
    if s.dead:
        raise RuleViolation(f"character {s.character_id!r} is dead")


def create_character(uow: UnitOfWork, cmd: c.CreateCharacter) -> None:
    campaign = uow.campaign(cmd.campaign_id)
    if uow.character(cmd.character_id, must_exist=False).exists:
        raise EntityExists(f"character {cmd.character_id!r} already exists")
    what = f"character {cmd.character_id}"
    for ref, kind in ((cmd.race, "races"), (cmd.subrace, "subraces"), (cmd.class_, "classes"),
                      (cmd.subclass, "subclasses"), (cmd.background, "backgrounds"),
                      (cmd.alignment, "alignments")):
        uow.check_ref(ref, (kind,), what)
    for spell in (*cmd.spells_known, *cmd.cantrips_known):
        uow.check_ref(spell, ("spells",), what)
    for item in cmd.inventory:
        uow.check_ref(item.content_ref, ("equipment", "magic-items"), what)
    class_index = None if cmd.class_ is None or cmd.class_.homebrew else cmd.class_.index
    hit_die = cmd.hit_die or rules.hit_die(class_index)
    con_mod = rules.ability_modifier(cmd.ability_scores.con)
    max_hp = cmd.max_hp or max(1, hit_die + con_mod + (cmd.level - 1) * rules.average_hp_gain(
        class_index, cmd.ability_scores.con))
    slots = (cmd.spell_slots_max if cmd.spell_slots_max is not None
             else rules.spell_slots(class_index, cmd.level))
    data = cmd.model_dump(exclude={"kind", "max_hp", "hit_die", "spell_slots_max"},
                          by_alias=True)
    uow.emit("character", cmd.character_id, ev.CharacterCreated.model_validate(
        {**data, "max_hp": max_hp, "current_hp": max_hp, "hit_die": hit_die,
         "spell_slots_max": slots}))
    del campaign  # loaded only to check it exists; the join is on its own stream
    uow.emit("campaign", cmd.campaign_id, evc.PartyMemberJoined(
        character_id=cmd.character_id, template_id=cmd.template_id, name=cmd.name,
        level=cmd.level))


def change_details(uow: UnitOfWork, cmd: c.ChangeCharacterDetails) -> None:
    s = uow.character(cmd.character_id)
    changed = {k: v for k, v in cmd.model_dump(include={"name", "notes", "appearance"},
                                               exclude_none=True).items()
               if getattr(s, k) != v}
    relationships = {k: v for k, v in (cmd.relationships or {}).items()
                     if s.relationships.get(k) != v}
    if changed or relationships or cmd.achievements_added:
        uow.emit("character", cmd.character_id, ev.CharacterDetailsChanged(
            **changed, relationships=relationships or None,
            achievements_added=cmd.achievements_added))


def damage(uow: UnitOfWork, character_id: str, amount: int, damage_type: str | None,
           source: Source, critical: bool, encounter_id: str | None) -> None:
    """Temporary HP absorb first; HP is clamped at 0; damage at 0 HP is a failed death save;
    damage left over at 0 HP that reaches the HP maximum kills outright."""
    s = uow.character(character_id)
    _alive(s)
    if amount == 0:
        return
    absorbed = min(s.temp_hp, amount)
    rest = amount - absorbed
    hp_before = s.current_hp
    hp_after = max(0, hp_before - rest)
    uow.emit("character", character_id, ev.DamageTaken(
        amount=amount, damage_type=damage_type, source=source, critical=critical,
        temp_hp_absorbed=absorbed, hp_before=hp_before, hp_after=hp_after,
        encounter_id=encounter_id))
    if s.dead:
        return   # massive damage (rules.killed_outright): the fold of DamageTaken kills
    if hp_before > 0 and hp_after == 0 and UNCONSCIOUS.index not in s.conditions:
        uow.emit("character", character_id, ev.ConditionApplied(
            condition=UNCONSCIOUS, source="dropped to 0 hit points", encounter_id=encounter_id))
    elif hp_before == 0 and rest > 0:
        # Rules: damage while at 0 HP is one failed death save (two on a critical hit).
        failures = min(3, s.death_saves.failures + (2 if critical else 1))
        uow.emit("character", character_id, ev.DeathSaveRecorded(
            outcome="critical_failure" if critical else "failure",
            successes=0 if s.stable else s.death_saves.successes, failures=failures,
            result="dead" if failures >= 3 else "ongoing"))


def heal(uow: UnitOfWork, character_id: str, amount: int, source: Source,
         encounter_id: str | None) -> None:
    s = uow.character(character_id)
    _alive(s)
    hp_before = s.current_hp
    hp_after = min(s.max_hp, hp_before + amount)
    if hp_after == hp_before:
        return
    uow.emit("character", character_id, ev.HealingReceived(
        amount=amount, source=source, hp_before=hp_before, hp_after=hp_after,
        encounter_id=encounter_id))
    if hp_before == 0 and UNCONSCIOUS.index in s.conditions:
        uow.emit("character", character_id,
                 ev.ConditionRemoved(condition=UNCONSCIOUS, reason="healed"))


def set_temp_hp(uow: UnitOfWork, cmd: c.SetTemporaryHitPoints) -> None:
    """Temporary HP don't stack: the higher amount is kept; 0 clears them."""
    s = uow.character(cmd.character_id)
    _alive(s)
    if (cmd.amount == 0 and s.temp_hp > 0) or cmd.amount > s.temp_hp:
        uow.emit("character", cmd.character_id,
                 ev.TemporaryHitPointsSet(amount=cmd.amount, source=cmd.source))


def apply_condition(uow: UnitOfWork, character_id: str, cmd: c.ApplyCondition,
                    encounter_id: str | None) -> None:
    ref = cmd.condition   # a bare name is `conditions/<slug>` (refs.ConditionRef)
    uow.check_ref(ref, ("conditions",), f"condition for {character_id}")
    s = uow.character(character_id)
    if ref.index in s.conditions:
        return   # applied twice: a no-op that appends nothing
    save = (ev.SaveInfo(ability=cmd.save_ability, dc=cmd.save_dc)
            if cmd.save_ability and cmd.save_dc is not None else None)
    uow.emit("character", character_id, ev.ConditionApplied(
        condition=ref, duration=cmd.duration, save=save, source=cmd.source,
        encounter_id=encounter_id))


def remove_condition(uow: UnitOfWork, character_id: str, cmd: c.RemoveCondition) -> None:
    ref = cmd.condition
    s = uow.character(character_id)
    held = s.conditions.get(ref.index)
    if held is not None:
        uow.emit("character", character_id,
                 ev.ConditionRemoved(condition=held.condition, reason=cmd.reason))


def change_exhaustion(uow: UnitOfWork, cmd: c.ChangeExhaustion) -> None:
    s = uow.character(cmd.character_id)
    _alive(s)
    after = max(0, min(rules.MAX_EXHAUSTION, s.exhaustion + cmd.delta))
    if after != s.exhaustion:
        uow.emit("character", cmd.character_id, ev.ExhaustionChanged(
            level_before=s.exhaustion, level_after=after, reason=cmd.reason))


def record_death_save(uow: UnitOfWork, cmd: c.RecordDeathSave) -> None:
    s = uow.character(cmd.character_id)
    _alive(s)
    if s.current_hp > 0:
        raise RuleViolation(f"character {cmd.character_id!r} is not dying (HP {s.current_hp})")
    if s.stable:
        raise RuleViolation(f"character {cmd.character_id!r} is already stable")
    successes, failures = s.death_saves.successes, s.death_saves.failures
    if cmd.roll == 20:
        uow.emit("character", cmd.character_id, ev.DeathSaveRecorded(
            outcome="critical_success", successes=0, failures=0, result="revived"))
        if UNCONSCIOUS.index in s.conditions:
            uow.emit("character", cmd.character_id,
                     ev.ConditionRemoved(condition=UNCONSCIOUS, reason="revived"))
        return
    if cmd.roll == 1:
        outcome, failures = "critical_failure", min(3, failures + 2)
    elif cmd.roll < 10:
        outcome, failures = "failure", failures + 1
    else:
        outcome, successes = "success", successes + 1
    result = "dead" if failures >= 3 else "stable" if successes >= 3 else "ongoing"
    uow.emit("character", cmd.character_id, ev.DeathSaveRecorded(
        outcome=outcome, successes=successes, failures=failures,
        result=result))


def add_item(uow: UnitOfWork, cmd: c.AddItem) -> None:
    uow.character(cmd.character_id)
    uow.check_ref(cmd.content_ref, ("equipment", "magic-items"), f"item {cmd.item_id}")
    uow.emit("character", cmd.character_id, ev.ItemAdded.model_validate(
        cmd.model_dump(exclude={"kind", "character_id"})))


def remove_item(uow: UnitOfWork, cmd: c.RemoveItem) -> None:
    s = uow.character(cmd.character_id)
    held = s.inventory.get(cmd.item_id)
    if held is None:
        raise UnknownEntity(f"character {cmd.character_id!r} holds no item {cmd.item_id!r}")
    if held.quantity < cmd.quantity:
        raise RuleViolation(f"character {cmd.character_id!r} holds only {held.quantity} "
                            f"of {cmd.item_id!r}, not {cmd.quantity}")
    if cmd.to_character_id is not None:
        uow.character(cmd.to_character_id)
        if cmd.to_character_id == cmd.character_id:
            raise InvalidCommand("an item cannot be given to its holder")
    item = held.model_copy()
    uow.emit("character", cmd.character_id, ev.ItemRemoved(
        item_id=cmd.item_id, quantity=cmd.quantity,
        reason="given" if cmd.to_character_id else cmd.reason,
        to_character_id=cmd.to_character_id))
    if cmd.to_character_id is not None:
        uow.emit("character", cmd.to_character_id, ev.ItemAdded(
            item_id=item.item_id, name=item.name, description=item.description,
            quantity=cmd.quantity, content_ref=item.content_ref, value_gp=item.value_gp,
            rarity=item.rarity, source=f"given by {s.name}"))


def change_currency(uow: UnitOfWork, cmd: c.ChangeCurrency) -> None:
    s = uow.character(cmd.character_id)
    delta = {coin: n for coin, n in cmd.delta.items() if n}
    if not delta:
        return
    purse = s.purse.model_dump()
    for coin, n in delta.items():
        purse[coin] += n
        if purse[coin] < 0:
            raise RuleViolation(f"character {cmd.character_id!r} has only "
                                f"{purse[coin] - n} {coin}, cannot spend {-n}")
    uow.emit("character", cmd.character_id, ev.CurrencyChanged(
        delta=delta, balance_after=ev.Purse(**purse), reason=cmd.reason, source=cmd.source))


def expend_slot(uow: UnitOfWork, cmd: c.ExpendSpellSlot) -> None:
    s = uow.character(cmd.character_id)
    _alive(s)
    uow.check_ref(cmd.spell, ("spells",), f"spell for {cmd.character_id}")
    key = str(cmd.slot_level)
    have = s.spell_slots_max.get(key, 0) - s.spell_slots_used.get(key, 0)
    if have <= 0:
        raise RuleViolation(f"character {cmd.character_id!r} has no level-{key} slot left")
    uow.emit("character", cmd.character_id, ev.SpellSlotExpended(
        slot_level=cmd.slot_level, spell=cmd.spell, slots_remaining=have - 1))


def take_rest(uow: UnitOfWork, cmd: c.TakeRest) -> None:
    """No rest while the campaign fights: a rest is an hour or more of downtime (SRD)."""
    s = uow.character(cmd.character_id)
    _alive(s)
    fight = uow.active_encounter(s.campaign_id)
    if fight is not None:
        raise RuleViolation(
            f"character {cmd.character_id!r} cannot take a {cmd.rest_type} rest during "
            f"encounter {fight.encounter_id!r}; end the encounter first")
    class_index = s.class_.index if s.class_ else None
    if cmd.rest_type == "short":
        available = s.hit_dice_total - s.hit_dice_used
        if cmd.hit_dice_spent > available:
            raise RuleViolation(f"character {cmd.character_id!r} has {available} hit dice "
                                f"left, not {cmd.hit_dice_spent}")
        recovered = min(cmd.hp_rolled, s.max_hp - s.current_hp) if cmd.hit_dice_spent else 0
        slots = (dict(s.spell_slots_used) if rules.short_rest_restores_slots(class_index)
                 else {})
        uow.emit("character", cmd.character_id, ev.RestTaken(
            rest_type="short", hit_dice_spent=cmd.hit_dice_spent, hp_recovered=recovered,
            slots_restored=slots))
    else:
        if s.current_hp == 0:
            raise RuleViolation("a character at 0 hit points gains nothing from a long rest")
        uow.emit("character", cmd.character_id, ev.RestTaken(
            rest_type="long", hit_dice_spent=0,
            hit_dice_regained=min(s.hit_dice_used, rules.long_rest_hit_dice_regained(s.level)),
            hp_recovered=s.max_hp - s.current_hp, slots_restored=dict(s.spell_slots_used),
            exhaustion_reduced=1 if s.exhaustion else 0))


def gain_experience(uow: UnitOfWork, character_id: str, amount: int, source: str) -> None:
    s = uow.character(character_id)
    if amount:
        uow.emit("character", character_id, ev.ExperienceGained(
            amount=amount, total_after=s.xp + amount, source=source))


def level_up(uow: UnitOfWork, cmd: c.LevelUp) -> None:
    s = uow.character(cmd.character_id)
    _alive(s)
    if s.level >= rules.MAX_LEVEL:
        raise RuleViolation(f"character {cmd.character_id!r} is already level 20")
    campaign = uow.campaign(s.campaign_id)
    needed = rules.xp_for_level(s.level + 1)
    if campaign.xp_system == "xp" and s.xp < needed:
        raise RuleViolation(f"character {cmd.character_id!r} has {s.xp} XP; "
                            f"level {s.level + 1} needs {needed}")
    uow.check_ref(cmd.subclass, ("subclasses",), f"subclass for {cmd.character_id}")
    for feature in cmd.features_gained:
        uow.check_ref(feature.ref, (), f"feature for {cmd.character_id}")
    class_index = s.class_.index if s.class_ and not s.class_.homebrew else None
    gained = cmd.hp_gained or rules.average_hp_gain(class_index, s.ability_scores.con)
    slots = rules.spell_slots(class_index, s.level + 1) if class_index else {}
    uow.emit("character", cmd.character_id, ev.LevelGained(
        level_after=s.level + 1, hp_gained=gained, max_hp_after=s.max_hp + gained,
        features_gained=cmd.features_gained, subclass=cmd.subclass,
        spell_slots_max_after=slots or s.spell_slots_max))
