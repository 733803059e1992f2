"""Audit replay of a session log written outside questlog (tests/fixtures/game_session_b.jsonl).

The log comes from a generator that imports nothing of questlog and writes the domain
note's other accepted shapes (bare indexes, names, flat combatants, `damage_dice`,
`delta_gp`, grouped proficiencies, unknown fields). It must replay to checked-in
digests, rebuild to the same rows, and read as the state the outside game meant.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from questlog import Store
from questlog.game.registry import GAME_EVENT_TYPES
from questlog.replay import replay_file

from .conftest import FIXTURES

LOG = FIXTURES / "game_session_b.jsonl"
DIGESTS = FIXTURES / "game_session_b.digests.json"
GENERATOR = FIXTURES / "game_session_b_gen.py"


def game_digests(store: Store) -> dict[str, str]:
    return {k: v for k, v in store.projections.hashes().items() if k.startswith("game_")}


def test_foreign_log_has_every_event_type_and_other_shapes() -> None:
    events = [json.loads(line) for line in LOG.read_text(encoding="utf-8").splitlines()]
    assert len(events) >= 400
    assert {e["type"] for e in events} == GAME_EVENT_TYPES
    first = (FIXTURES / "game_session.jsonl").read_text(encoding="utf-8")
    characters = {e["data"]["character_id"] for e in events if e["type"] == "CharacterCreated"}
    assert characters and not any(f'"character_id": "{c}"' in first for c in characters)
    # The shapes questlog itself never writes are really in it.
    text = LOG.read_text(encoding="utf-8")
    for variant in ('"damage_dice"', '"delta_gp"', '"saving_throws"', '"producer"',
                    '"race": "half-orc"', '"spell": "Healing Word"'):
        assert variant in text, variant
    joined = next(e for e in events if e["type"] == "CombatantJoined")
    assert "combatant" not in joined["data"] and "combatant_id" in joined["data"]


def test_generator_reproduces_the_log(tmp_path: Path) -> None:
    out = tmp_path / "b.jsonl"
    subprocess.run([sys.executable, str(GENERATOR), "--out", str(out)], check=True,
                   capture_output=True, timeout=60)
    assert out.read_bytes() == LOG.read_bytes()


def test_foreign_log_replays_to_the_checked_in_digests(tmp_path: Path) -> None:
    expected = json.loads(DIGESTS.read_text())
    assert len(expected) == 8
    store = Store.open(tmp_path / "b.db")
    try:
        report = replay_file(store, LOG)
        assert report.appended == len(LOG.read_text().splitlines())
        assert game_digests(store) == expected
        store.projections.rebuild(list(expected))
        assert game_digests(store) == expected
        assert replay_file(store, LOG).appended == 0

        # What the outside game meant is what questlog reads.
        kestrel = store.game.state("character", "kestrel")
        assert kestrel.class_ is not None and kestrel.class_.index == "barbarian"
        assert kestrel.race is not None and kestrel.race.index == "half-orc"
        assert "Martial Weapons" in kestrel.proficiencies
        mirelle = store.game.state("character", "mirelle")
        assert [r.index for r in mirelle.spells_known] == ["healing-word", "thunderwave"]
        assert "Jack of All Trades" in [f.name for f in mirelle.features]
        assert mirelle.purse.gp == 20 + 15 + 120  # delta_gp and a balance in gold
        campaign = store.game.state("campaign", "saltreach")
        assert campaign.quests["keepers"].status == "completed"
        assert not campaign.party["oskar"].active
        wreck = store.game.state("encounter", "wreck")
        assert wreck.status == "ended" and wreck.outcome == "victory"
        anneke = wreck.combatants["anneke"]
        assert anneke.attacks and anneke.attacks[0].damage == "1d6+3"
        lighthouse = store.game.state("encounter", "caves-1")
        assert "bandit-1" in lighthouse.combatants  # the flat CombatantJoined
        assert all(row["state"] != "parked" for row in store.projections.status())
    finally:
        store.close()
