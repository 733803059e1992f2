"""store.game against a real store: one atomic multi-stream append per response,
idempotent retries, optimistic concurrency, content checks, snapshots, time travel."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from questlog import Store
from questlog.errors import WrongExpectedVersion
from questlog.game.errors import EncounterNotActive, InvalidCommand, UnknownContentReference, UnknownEntity
from questlog.game.snapshots import read_snapshot

from .conftest import campaign_setup


def game_count(store: Store) -> int:
    return sum(1 for _ in store.read_all(categories=["campaign", "character", "encounter"]))


def test_one_response_is_one_atomic_append_over_three_streams(game_store: Store) -> None:
    result = game_store.game.apply(campaign_setup(party=("aria",)), correlation_id="r1")
    assert [s.stream_id for s in result.streams] == [
        "campaign-c1", "character-aria", "encounter-e1"]
    positions = [p for s in result.streams for p in s.positions]
    assert positions == list(range(positions[0], positions[0] + result.events))
    events = list(game_store.read_all(from_position=positions[0]))
    assert {e.metadata["correlation_id"] for e in events} == {"r1"}
    assert game_store.game.campaign_summary("c1").in_combat
    assert game_store.game.party("c1")[0].name == "Aria"


def test_retried_response_is_a_no_op(game_store: Store) -> None:
    game_store.game.apply(campaign_setup(encounter=None), correlation_id="setup")
    hit = [{"kind": "deal_damage", "target": {"character_id": "aria"}, "amount": 3}]
    first = game_store.game.apply(hit, correlation_id="r2")
    head = game_store.head_position()
    again = game_store.game.apply(hit, correlation_id="r2")
    assert again.replayed and game_store.head_position() == head
    assert [s.positions for s in again.streams] == [s.positions for s in first.streams]
    assert game_store.game.party_sheet("aria").current_hp == 9


def test_bad_last_command_appends_nothing(game_store: Store) -> None:
    game_store.game.apply(campaign_setup(), correlation_id="setup")
    before = game_count(game_store)
    sheet = game_store.game.party_sheet("aria")
    bad_tails: list[dict[str, Any]] = [
        {"kind": "deal_damage", "target": {"character_id": "aria"}, "amount": -1},
        {"kind": "deal_damage", "target": {"character_id": "ghost"}, "amount": 1},
        {"kind": "apply_condition", "target": {"character_id": "aria"}, "condition": "sleepy"},
        {"kind": "add_item", "character_id": "aria"},
    ]
    errors = (InvalidCommand, UnknownEntity, UnknownContentReference, InvalidCommand)
    for tail, error in zip(bad_tails, errors, strict=True):
        with pytest.raises(error):
            game_store.game.apply([
                {"kind": "deal_damage", "target": {"character_id": "aria"}, "amount": 2},
                {"kind": "append_message", "campaign_id": "c1", "message_id": "m1",
                 "role": "assistant", "content": "ouch"},
                {"kind": "deal_damage", "target": {"encounter_id": "e1",
                                                   "combatant_id": "gob1"}, "amount": 2},
                tail])
    assert game_count(game_store) == before
    assert game_store.game.party_sheet("aria") == sheet
    assert game_store.game.recent_chat("c1") == []


def test_acting_in_a_finished_encounter_appends_nothing(game_store: Store) -> None:
    game = game_store.game
    game.apply(campaign_setup(enemies=1), correlation_id="setup")
    game.apply([{"kind": "deal_damage", "amount": 7,
                 "target": {"encounter_id": "e1", "combatant_id": "gob1"}},
                {"kind": "end_encounter", "encounter_id": "e1"}], correlation_id="win")
    before = game_count(game_store)
    with pytest.raises(EncounterNotActive, match="command 1 .*has ended"):
        game.apply([{"kind": "append_message", "campaign_id": "c1", "message_id": "m1",
                     "role": "assistant", "content": "again!"},
                    {"kind": "advance_turn", "encounter_id": "e1"}])
    assert game_count(game_store) == before
    assert not game.campaign_summary("c1").in_combat


def test_content_references_checked_against_effective_content(game_store: Store) -> None:
    game_store.game.apply(campaign_setup(encounter=None))
    with pytest.raises(UnknownContentReference, match="monsters/tarrasque"):
        game_store.game.apply([{"kind": "start_encounter", "encounter_id": "e2",
                                "campaign_id": "c1", "combatants": [{
                                    "combatant_id": "t", "kind": "monster", "name": "T",
                                    "hp": 600, "max_hp": 600, "monster_ref": {
                                        "type": "monsters", "index": "tarrasque",
                                        "name": "Tarrasque"}}]}])
    # The same invented monster marked homebrew is accepted; SRD references resolve.
    game_store.game.apply([
        {"kind": "start_encounter", "encounter_id": "e2", "campaign_id": "c1",
         "combatants": [{"combatant_id": "t", "kind": "monster", "name": "T", "hp": 60,
                         "max_hp": 60, "monster_ref": {"type": "monsters", "name": "Tarrasque",
                                                       "homebrew": True}}]},
        {"kind": "apply_condition", "target": {"character_id": "aria"},
         "condition": {"type": "conditions", "index": "poisoned", "name": "Poisoned"}},
        {"kind": "add_item", "character_id": "aria", "item_id": "ls", "name": "Longsword",
         "content_ref": {"type": "equipment", "index": "longsword", "name": "Longsword"}}])
    assert game_store.game.party_sheet("aria").conditions == ["poisoned"]
    with pytest.raises(InvalidCommand, match="reference type 'spells'"):
        game_store.game.apply([{"kind": "apply_condition", "target": {"character_id": "aria"},
                                "condition": {"type": "spells", "index": "fireball",
                                              "name": "Fireball"}}])


def test_concurrent_change_fails_whole_response_and_retry_revalidates(
        game_store: Store) -> None:
    game = game_store.game
    game.apply(campaign_setup(enemies=1), correlation_id="setup")
    response = [{"kind": "deal_damage", "target": {"encounter_id": "e1",
                                                   "combatant_id": "gob1"}, "amount": 7},
                {"kind": "apply_condition", "target": {"character_id": "aria"},
                 "condition": "prone"}]
    # The response is decided against version v while another writer moves a stream on.
    uow = game._unit()
    uow.run(response)
    game.apply([{"kind": "deal_damage", "target": {"encounter_id": "e1",
                                                   "combatant_id": "gob1"}, "amount": 2}],
               correlation_id="other")
    head = game_store.head_position()
    with pytest.raises(WrongExpectedVersion) as info:
        game._commit(uow, "resp")
    assert info.value.stream_id == "encounter-e1"
    assert game_store.head_position() == head          # the character part was not written
    # Retrying the response re-decides against the new state (HP 5, not 7).
    result = game.apply(response, correlation_id="resp")
    changed = next(e for e in game_store.read_stream("encounter-e1")
                   if e.metadata["correlation_id"] == "resp")
    assert (changed.data["hp_before"], changed.data["hp_after"]) == (5, 0)
    assert result.events == 3   # HP change, 'defeated', and the condition on aria


def test_change_to_a_stream_only_read_fails_the_response(game_store: Store) -> None:
    game = game_store.game
    game.apply(campaign_setup(enemies=1), correlation_id="setup")
    # Advancing the turn reads the PCs' streams to skip the incapacitated ones.
    uow = game._unit()
    uow.run([{"kind": "advance_turn", "encounter_id": "e1"}])
    assert ("character-aria", 1) in uow.read_only_streams()
    game.apply([{"kind": "deal_damage", "target": {"character_id": "aria"}, "amount": 99}],
               correlation_id="knockout")
    with pytest.raises(WrongExpectedVersion) as info:
        game._commit(uow, "turn")
    assert info.value.stream_id == "character-aria"
    result = game.apply([{"kind": "advance_turn", "encounter_id": "e1"}],
                        correlation_id="turn")
    turn = game_store.read_stream("encounter-e1")[-1]
    assert result.events == 1
    assert (turn.data["combatant_id"], turn.data["skipped_ids"]) == ("bram", ["aria"])


def test_parallel_applies_on_one_stream_never_lose_an_update(game_store: Store) -> None:
    game = game_store.game
    game.apply(campaign_setup(encounter=None), correlation_id="setup")
    errors: list[Exception] = []

    def worker(n: int) -> None:
        for i in range(5):
            for _attempt in range(50):
                try:
                    game.apply([{"kind": "change_currency", "character_id": "aria",
                                 "delta": {"cp": 1}}], correlation_id=f"w{n}-{i}")
                    break
                except WrongExpectedVersion:
                    time.sleep(0.001)
            else:
                errors.append(RuntimeError("gave up"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert game.state("character", "aria").purse.cp == 20
    assert game.party_sheet("aria").purse["cp"] == 20


def test_snapshots_every_n_events_equal_the_full_fold(game_store: Store) -> None:
    game = game_store.game
    game.apply(campaign_setup(encounter=None), correlation_id="setup")
    for i in range(30):
        game.apply([{"kind": "append_message", "campaign_id": "c1", "message_id": f"m{i}",
                     "role": "assistant", "content": f"line {i}"}], correlation_id=f"chat{i}")
    with game_store.read() as conn:
        snap = read_snapshot(game_store.snapshots, conn, "campaign", "campaign-c1")
    assert snap is not None and snap.stream_version == 20      # snapshot_every=20
    loaded = game.load("campaign", "c1")
    full = game.load("campaign", "c1", use_snapshots=False)
    assert loaded.from_snapshot and loaded.tail == loaded.version - 20
    assert loaded.state == full.state
    # A changed fold ignores stale snapshots: rewrite the stored one as another fold version.
    game_store.write(lambda conn: conn.execute("UPDATE snapshots SET aggregate_version = 99"))
    again = game.load("campaign", "c1")
    assert not again.from_snapshot and again.state == full.state


def test_time_travel_by_position_version_and_timestamp(game_store: Store) -> None:
    game = game_store.game
    game.apply(campaign_setup(encounter=None), correlation_id="setup")
    first = game.apply([{"kind": "deal_damage", "target": {"character_id": "aria"},
                         "amount": 4}], correlation_id="hit1")
    time.sleep(0.01)
    moment = game_store.read_stream("character-aria")[-1].recorded_at
    time.sleep(0.01)
    game.apply([{"kind": "deal_damage", "target": {"character_id": "aria"}, "amount": 5}],
               correlation_id="hit2")
    position = first.streams[0].positions[-1]
    assert game.state("character", "aria", position=position).current_hp == 8
    assert game.state("character", "aria", version=1).current_hp == 12
    assert game.state("character", "aria", timestamp=moment).current_hp == 8
    assert game.state("character", "aria").current_hp == 3
    assert not game.state("character", "aria", position=1).exists
    with pytest.raises(InvalidCommand, match="timestamp"):
        game.state("character", "aria", timestamp="yesterday")


def test_read_models_serve_the_game_server(game_store: Store) -> None:
    game = game_store.game
    game.apply(campaign_setup(enemies=1), correlation_id="setup")
    game.apply([
        {"kind": "add_quest", "campaign_id": "c1", "quest_id": "q1", "title": "Rats"},
        {"kind": "update_quest", "campaign_id": "c1", "quest_id": "q1", "status": "completed"},
        {"kind": "record_npc", "campaign_id": "c1", "npc_id": "bob", "name": "Bob"},
        {"kind": "record_npc", "campaign_id": "c1", "npc_id": "bob", "attitude": "friendly"},
        {"kind": "request_dice_roll", "campaign_id": "c1", "request_id": "r1",
         "character_ids": ["aria"], "roll_type": "save", "formula": "1d20"},
        {"kind": "add_item", "character_id": "aria", "item_id": "rope", "name": "Rope",
         "content_ref": {"type": "equipment", "index": "rope-hempen-50-feet", "name": "Rope"}},
        {"kind": "apply_condition", "target": {"encounter_id": "e1", "combatant_id": "aria"},
         "condition": "prone"},
        {"kind": "roll_initiative", "encounter_id": "e1", "combatant_id": "gob1", "roll": 20},
        {"kind": "advance_turn", "encounter_id": "e1"},
    ] + [{"kind": "append_message", "campaign_id": "c1", "message_id": f"m{i}",
          "role": "assistant", "content": f"line {i}"} for i in range(5)]
      + [{"kind": "supersede_message", "campaign_id": "c1", "message_id": "m4"}],
        correlation_id="turn")
    assert [(q.quest_id, q.status) for q in game.quests("c1")] == [("q1", "completed")]
    assert [(n.name, n.attitude) for n in game.npcs("c1")] == [("Bob", "friendly")]
    assert [d.request_id for d in game.pending_dice("c1")] == ["r1"]
    assert [i.item_id for i in game.inventory("aria")] == ["rope"]
    page = game.chat("c1", page=2, page_size=2)
    assert page.total == 4 and [m.message_id for m in page.messages] == ["m2", "m3"]
    assert [m.message_id for m in game.recent_chat("c1", 2)] == ["m2", "m3"]
    assert game.chat("c1", include_superseded=True).total == 5
    tracker = game.encounter_tracker("e1")
    assert tracker.current_combatant_id == "gob1" and tracker.round == 1
    aria = next(c for c in tracker.combatants if c.combatant_id == "aria")
    assert aria.conditions == ["prone"] and aria.hp == 12     # joined from the character
    with pytest.raises(UnknownEntity):
        game.encounter_tracker("nope")


def test_monster_from_its_content_entry_and_stated_values_win(game_store: Store) -> None:
    game = game_store.game
    game.apply(campaign_setup(encounter=None, party=("aria",)))
    goblin = {"type": "monsters", "index": "goblin", "name": "Goblin"}
    game.apply([{"kind": "start_encounter", "encounter_id": "e1", "campaign_id": "c1",
                 "combatants": [
                     {"combatant_id": "aria", "kind": "pc", "character_id": "aria",
                      "name": "Aria"},
                     {"combatant_id": "g1", "kind": "monster", "name": "Goblin",
                      "monster_ref": goblin},
                     {"combatant_id": "g2", "kind": "monster", "name": "Goblin boss",
                      "monster_ref": goblin, "hp": 3, "ac": 17, "attacks": []}]}])
    fight = game.state("encounter", "e1")
    g1, g2 = fight.combatants["g1"], fight.combatants["g2"]
    # SRD goblin: AC 15 (leather armor, shield), 7 (2d6) HP, DEX 14, scimitar +4 1d6+2.
    assert (g1.ac, g1.hp, g1.max_hp, g1.initiative_modifier) == (15, 7, 7, 2)
    assert g1.stats == {"str": 8, "dex": 14, "con": 10, "int": 10, "wis": 8, "cha": 8}
    scimitar = next(a for a in g1.attacks if a.name == "Scimitar")
    assert (scimitar.to_hit, scimitar.damage, scimitar.damage_type, scimitar.kind) == (
        4, "1d6+2", "slashing", "melee")
    assert (g2.ac, g2.hp, g2.max_hp, g2.attacks) == (17, 3, 7, [])
    # Without a content entry to take them from, hp and max_hp stay required.
    with pytest.raises(InvalidCommand, match="needs hp and max_hp"):
        game.apply([{"kind": "add_combatant", "encounter_id": "e1", "combatant": {
            "combatant_id": "x", "kind": "monster", "name": "Blob",
            "monster_ref": {"type": "monsters", "name": "Blob", "homebrew": True}}}])
