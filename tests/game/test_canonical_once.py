"""A game event's payload is read (`normalize.canonical_of`: upcast, variants rewritten,
validated) once per event, not once per projector: the append check computes it in the
producer's thread and the planner hands it to the writer's `RecordedEvent`; an event read
from the log is read by its first reader and kept. One payload is then shared by every
fold of the event, so no fold handler or projector may change it, nor keep its lists or
dicts in a state. An unreadable payload is never kept: each projector meets the
PoisonEvent and parks alone, as before."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from questlog import NewEvent, Store
from questlog.errors import PoisonEvent
from questlog.events import GENESIS_HASH, RecordedEvent
from questlog.game import normalize
from questlog.game.fold import fold
from questlog.game.normalize import canonical_data, canonical_of
from questlog.game.projecting import FoldingProjector, PartProjector
from questlog.game.registry import EVENT_MODELS
from questlog.planner import BatchState, make_call, plan_calls
from questlog.projection.checkpoints import live_tables
from questlog.projection.projector import ProjectionContext
from questlog.projection.registry import discover
from questlog.storage.session import Session

from .test_replay import DIGESTS, LOG, game_digests


def session_lines() -> list[dict[str, Any]]:
    return [json.loads(line) for line in LOG.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every reading of a game payload (`normalize._canonical`), by event type."""
    readings: list[str] = []
    original = normalize._canonical

    def counting(event_type: str, *args: Any) -> Any:
        readings.append(event_type)
        return original(event_type, *args)

    monkeypatch.setattr(normalize, "_canonical", counting)
    return readings


def test_the_append_check_hands_its_reading_to_the_recorded_event() -> None:
    data = {"message_id": "m-1", "role": "user", "content": "hi"}
    call = make_call("campaign-7", [{"type": "MessageAppended", "data": data}], "any")
    (event,) = call.events
    assert event.canonical == canonical_data("MessageAppended", 1, data, stream_id="campaign-7")
    plan = plan_calls([call], BatchState(0, GENESIS_HASH, {"campaign-7": 0}, {}), {},
                      "2026-01-01T00:00:00.000000Z")
    assert plan.recorded[0].canonical is event.canonical
    assert canonical_of(plan.recorded[0]) is event.canonical
    # Trusted facts are not checked at append: the writer's first reader reads them.
    trusted = make_call("campaign-7", [{"type": "MessageAppended", "data": data}], "any",
                        validate=False)
    assert trusted.events[0].canonical is None
    # Not part of the event: equal events stay equal, and it is not shown.
    fresh = RecordedEvent(*[getattr(plan.recorded[0], f) for f in (
        "position", "event_id", "stream_id", "stream_version", "category", "type",
        "schema_version", "data", "metadata", "recorded_at", "hash")])
    assert fresh == plan.recorded[0] and "canonical" not in repr(fresh)


@pytest.mark.parametrize("validate", [True, False])
def test_each_game_event_is_read_once_however_many_projectors_fold_it(
        tmp_path: Path, counted: list[str], validate: bool) -> None:
    lines = session_lines()
    known = [e["type"] for e in lines if e["type"] in EVENT_MODELS]
    with Store.open(tmp_path / "once.db") as store:
        store.start_writer()
        counted.clear()
        for e in lines:
            store.append(e["stream_id"], [{k: e[k] for k in (
                "event_id", "type", "schema_version", "data", "metadata")}],
                validate=validate)
        # Campaign events are folded by up to four inline projectors each (the summary,
        # the chat, quests, NPCs, dice requests): read once all the same.
        assert sorted(counted) == sorted(known)
        assert game_digests(store) == json.loads(DIGESTS.read_text(encoding="utf-8"))


@pytest.fixture
def log_store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path / "log.db", projectors=[])
    for e in session_lines():
        store.append(e["stream_id"], [{k: e[k] for k in (
            "event_id", "type", "schema_version", "data", "metadata")}])
    yield store
    store.close()


def test_no_fold_or_projector_changes_the_shared_payload(log_store: Store) -> None:
    events = list(log_store.read_all())
    payloads = [canonical_of(e) for e in events]
    before = copy.deepcopy(payloads)
    projectors = [p for p in discover() if isinstance(p, FoldingProjector | PartProjector)
                  or p.name == "game_chat"]
    assert len(projectors) == 8

    def job(session: Session) -> None:
        for p in projectors:
            for table in p.tables:
                log_store.readmodels.create(session, table)
            ctx = ProjectionContext(session, live_tables(p), log_store.readmodels)
            handled = [e for e in events if p.handles(e)]
            assert handled
            for start in range(0, len(handled), 7):   # batches, as the writer makes them
                p.apply(ctx, handled[start:start + 7])

    log_store.write(job)
    for category in ("campaign", "character", "encounter"):
        fold(category, [e for e in events if e.category == category])
    assert payloads == before
    assert all(canonical_of(e) is payload for e, payload in zip(events, payloads, strict=True))


def event(type_: str, data: dict[str, Any], version: int = 1) -> RecordedEvent:
    return RecordedEvent(version, f"e-{version}", "campaign-1", version, "campaign", type_, 1,
                         data, {}, "2026-01-01T00:00:00.000000Z", "")


def test_a_state_keeps_copies_of_the_payload_s_lists_and_dicts() -> None:
    events = [
        event("CampaignCreated", {"name": "C", "house_rules": {"crit": {"max": [1]}}}),
        event("CampaignSettingsChanged", {"content_pack_priority": ["a", "b"],
                                          "house_rules": {"flank": {"bonus": [2]}}}, 2),
        event("QuestAdded", {"quest_id": "q1", "title": "Q"}, 3),
        event("QuestUpdated", {"quest_id": "q1", "rewards": {"items": ["rope"]}}, 4),
    ]
    rewards = copy.deepcopy(canonical_of(events[3])["rewards"])
    assert rewards["items"] == ["rope"]
    state = fold("campaign", events)
    state.content_pack_priority.append("c")
    state.house_rules["flank"]["bonus"].append(3)
    state.quests["q1"].rewards["items"].append("torch")   # type: ignore[index]
    again = fold("campaign", events)   # the same events, their kept payloads
    assert again.content_pack_priority == ["a", "b"]
    assert again.house_rules == {"flank": {"bonus": [2]}}
    assert again.quests["q1"].rewards == rewards
    created = fold("campaign", events[:1])
    created.house_rules["crit"]["max"].append(2)
    assert fold("campaign", events[:1]).house_rules == {"crit": {"max": [1]}}


def test_an_unreadable_payload_is_never_kept() -> None:
    bad = event("MessageAppended", {"text": "hi"}, 5)
    for _ in range(2):   # each reader meets the poison itself
        with pytest.raises(PoisonEvent, match="message_id"):
            canonical_of(bad)
    assert bad.canonical is None


def test_a_recorded_poison_parks_each_projector_reading_it_and_no_other(
        tmp_path: Path) -> None:
    with Store.open(tmp_path / "poison.db") as store:
        store.append("campaign-1", [NewEvent(type="CampaignCreated",
                                             data={"campaign_id": "1", "name": "C"})])
        store.append("campaign-1", [
            NewEvent(type="MessageAppended",
                     data={"message_id": "m-1", "role": "user", "content": "first"}),
            NewEvent(type="MessageAppended", data={"text": "hi"}),
            NewEvent(type="MessageAppended",
                     data={"message_id": "m-3", "role": "user", "content": "third"}),
        ], validate=False)
        store.append("campaign-1", [NewEvent(type="SessionStarted", data={
            "session_number": 1, "started_at": "2026-01-01T00:00:00Z"})])
        status = {r["name"]: r for r in store.projections.status()}
        for name in ("game_campaign_summary", "game_chat"):
            assert (status[name]["state"], status[name]["position"],
                    status[name]["error_position"]) == ("parked", 2, 3), name
        assert all(r["state"] == "live" and r["position"] == 5
                   for name, r in status.items()
                   if name not in ("game_campaign_summary", "game_chat")
                   and r["mode"] == "inline"), status
        # The message before the poison in the same call took effect.
        assert [m.message_id for m in store.game.chat("1").messages] == ["m-1"]
