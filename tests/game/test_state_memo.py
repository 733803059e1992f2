"""The folding read models' memo of decoded states (`game.projecting.StateMemo`): a row
whose stored text is the text a projector last wrote is taken as the state it kept,
without validating the JSON again; anything else (a rolled-back batch, another writer)
is read from the row."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import BaseModel
from questlog.projections.game_campaign_summary import GameCampaignSummary
from questlog.projections.game_encounter_tracker import GameEncounterTracker, combatant_rows
from questlog.projections.game_party_sheet import GamePartySheet

from questlog import Store
from questlog.events import RecordedEvent
from questlog.game.fold import fold
from questlog.game.projecting import CompactPart
from questlog.game.readmodels.encounter_tracker import COMBATANTS
from questlog.game.state import CampaignState, CharacterState
from questlog.projection.checkpoints import live_tables
from questlog.projection.projector import ProjectionContext
from questlog.storage.session import Session

from .test_replay import DIGESTS, LOG, game_digests

STREAM = "character-brann"


@pytest.fixture
def log_store(tmp_path: Path) -> Iterator[Store]:
    """The recorded session on a store with no read models (the tests drive one)."""
    store = Store.open(tmp_path / "log.db", projectors=[])
    for line in LOG.read_text(encoding="utf-8").splitlines():
        e = json.loads(line)
        store.append(e["stream_id"], [{k: e[k] for k in (
            "event_id", "type", "schema_version", "data", "metadata")}])
    yield store
    store.close()


def events_of(store: Store, projector: GamePartySheet) -> list[RecordedEvent]:
    return [e for e in store.read_stream(STREAM) if projector.handles(e)]


def apply_job(projector: GamePartySheet, events: Sequence[RecordedEvent],
              create: bool = False, fail: bool = False) -> Any:
    def job(session: Session, store: Store) -> None:
        if create:
            for table in projector.tables:
                store.readmodels.create(session, table)
        projector.apply(ProjectionContext(session, live_tables(projector), store.readmodels),
                        events)
        if fail:
            raise RuntimeError("the batch fails after the projector wrote")
    return job


def sheet(store: Store) -> list[tuple[Any, ...]]:
    table = GamePartySheet.tables[0]
    with store.read() as session:
        return [tuple(r) for r in session.execute(sa.select(table).order_by(
            table.c.character_id))]


def run(store: Store, job: Any) -> None:
    store.write(lambda session: job(session, store))


def test_a_state_written_by_the_last_batch_is_not_validated_again(
        log_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    projector = GamePartySheet()
    events = events_of(log_store, projector)
    assert len(events) >= 10
    run(log_store, apply_job(projector, events[:5], create=True))
    validated: list[str] = []
    original = CharacterState.model_validate_json

    def counting(text: Any, *args: Any, **kwargs: Any) -> Any:
        validated.append(text)
        return original(text, *args, **kwargs)

    monkeypatch.setattr(CharacterState, "model_validate_json", counting)
    for event in events[5:]:
        run(log_store, apply_job(projector, [event]))
    assert validated == []   # every batch took the state the one before kept
    # ... and the rows are those of a projector that validated every state from its row.
    fresh = GamePartySheet()
    reference = Store.open(log_store.path.parent / "ref.db", projectors=[])
    try:
        run(reference, apply_job(fresh, events[:5], create=True))
        for event in events[5:]:
            fresh.__dict__.pop("_state_memo", None)   # forget: read every state from its row
            run(reference, apply_job(fresh, [event]))
        assert len(validated) == len(events) - 5
        assert sheet(log_store) == sheet(reference)
    finally:
        reference.close()


def test_a_rolled_back_batch_leaves_no_state_behind(log_store: Store) -> None:
    """The failed batch folded the state further and kept it with the text it wrote; the
    row still holds the text before it, so the next batch reads the row, and the rows are
    those of the log without the failed batch."""
    projector, fresh = GamePartySheet(), GamePartySheet()
    events = events_of(log_store, projector)
    first, failed, rest = events[:4], events[4:8], events[8:]
    run(log_store, apply_job(projector, first, create=True))
    before = sheet(log_store)
    with pytest.raises(RuntimeError):
        run(log_store, apply_job(projector, failed, fail=True))
    assert sheet(log_store) == before
    run(log_store, apply_job(projector, rest))
    reference = Store.open(log_store.path.parent / "ref.db", projectors=[])
    try:
        run(reference, apply_job(fresh, first, create=True))
        run(reference, apply_job(fresh, rest))
        assert sheet(log_store) == sheet(reference)
        # The failed batch's events would have changed the sheet: the test can tell.
        run(reference, apply_job(GamePartySheet(), events, create=False))
        assert sheet(reference) != sheet(log_store)
    finally:
        reference.close()


def test_one_event_per_batch_reaches_the_checked_in_digests(tmp_path: Path) -> None:
    """Every batch one event (the states taken from the memo from one batch to the next)
    gives the rows of the checked-in digests, which a rebuild reproduces."""
    expected = json.loads(DIGESTS.read_text())
    store = Store.open(tmp_path / "one-by-one.db")
    try:
        for line in LOG.read_text(encoding="utf-8").splitlines():
            e = json.loads(line)
            store.append(e["stream_id"], [{k: e[k] for k in (
                "event_id", "type", "schema_version", "data", "metadata")}], validate=False)
        assert store.writer.commits >= len(LOG.read_text().splitlines())
        assert game_digests(store) == expected
    finally:
        store.close()


def campaign_rows(store: Store) -> list[tuple[Any, ...]]:
    table = GameCampaignSummary.tables[0]
    with store.read() as session:
        return [tuple(r) for r in session.execute(sa.select(table).order_by(
            table.c.campaign_id))]


def test_a_campaign_read_from_its_row_is_the_state_it_kept(log_store: Store) -> None:
    """The campaign summary keeps its last message refs in a compact column of their own
    (`projecting.CompactPart`): a state read back from the row (state JSON + that column)
    folds on exactly as the state the memo kept, superseded flags included."""
    kept, read = GameCampaignSummary(), GameCampaignSummary()
    events = [e for e in log_store.read_all() if kept.handles(e)]
    assert any(e.type == "MessageSuperseded" for e in events)
    reference = Store.open(log_store.path.parent / "ref.db", projectors=[])
    try:
        run(log_store, apply_job(kept, events[:3], create=True))   # type: ignore[arg-type]
        run(reference, apply_job(read, events[:3], create=True))   # type: ignore[arg-type]
        superseded_seen = False
        for start in range(3, len(events), 7):
            batch = events[start:start + 7]
            run(log_store, apply_job(kept, batch))   # type: ignore[arg-type]
            read.__dict__.pop("_state_memo", None)   # forget: read every state from its row
            run(reference, apply_job(read, batch))   # type: ignore[arg-type]
            rows = campaign_rows(log_store)
            assert rows == campaign_rows(reference) and rows
            superseded_seen |= any(ref[2] for r in rows for ref in json.loads(r[4]))
        assert superseded_seen   # a superseded flag went through the compact column
        # The row holds the fold of the campaign's stream, split in two columns.
        state = log_store.game.state("campaign", "greyhollow")
        (row,) = [r for r in rows if r[0] == "greyhollow"]
        stored = json.loads(row[1])
        assert "recent_messages" not in stored
        assert json.loads(row[4]) == [[m.message_id, m.role, m.superseded]
                                      for m in state.recent_messages]
        assert stored == state.model_dump(mode="json", exclude={
            "position", "updated_at", "recent_messages"})
    finally:
        reference.close()


def test_the_encounter_tracker_writes_only_the_combatants_a_batch_changed(
        log_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each batch writes the combatant rows its events changed (a turn changes none), and
    the table ends as a full rewrite of every combatant would leave it."""
    tracker = GameEncounterTracker()
    events = [e for e in log_store.read_all() if tracker.handles(e)]
    written: list[tuple[str, list[tuple[Any, ...]]]] = []
    original = ProjectionContext.write_rows

    def spy(ctx: ProjectionContext, logical: str, columns: Sequence[str],
            rows: Sequence[tuple[Any, ...]], replace: bool = True) -> None:
        if logical == "rm_game_combatants":
            written.append((current[0], list(rows)))
        original(ctx, logical, columns, rows, replace=replace)

    monkeypatch.setattr(ProjectionContext, "write_rows", spy)
    current = [""]
    for n, event in enumerate(events):
        current[0] = event.type
        run(log_store, apply_job(tracker, [event], create=n == 0))   # type: ignore[arg-type]
    turns = sum(e.type == "TurnAdvanced" for e in events)
    assert turns > 10 and not [t for t, _ in written if t == "TurnAdvanced"]
    hits = [rows for t, rows in written if t == "CombatantHitPointsChanged"]
    assert hits and all(len(rows) == 1 for rows in hits)
    table = COMBATANTS
    with log_store.read() as session:
        stored = sorted(tuple(r) for r in session.execute(sa.select(table)))
    expected = sorted(row for key in {e.stream_id.split("-", 1)[1] for e in events}
                      for row in combatant_rows(key, fold(
                          "encounter", log_store.read_stream(f"encounter-{key}"))).values())
    assert stored == expected and len(stored) > 10


def test_a_compact_part_takes_only_fields_json_writes_one_way() -> None:
    """orjson writes the compact column; a float (NaN as null) or a nested model would not
    be written as Python's json writes it, so such entries are refused up front."""
    class Entry(BaseModel):
        name: str
        weight: float

    class Holder(BaseModel):
        entries: list[Entry] = []

    with pytest.raises(TypeError, match="weight"):
        CompactPart(Holder, "entries")
    assert CompactPart(CampaignState, "recent_messages").fields == (
        "message_id", "role", "superseded")


def test_the_tracker_keeps_each_state_s_combatant_rows_with_it(
        log_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The combatant rows a batch ends with are kept in the memo with the state: the next
    batch takes them as what the table holds (one `combatant_rows` per state and batch,
    not two); after a rolled-back batch they are computed from the row's state again, and
    the table ends as a full rewrite of every combatant would leave it."""
    from questlog.projections import game_encounter_tracker

    tracker = GameEncounterTracker()
    events = [e for e in log_store.read_all() if tracker.handles(e)
              and e.stream_id == "encounter-ambush-1"]
    assert len(events) > 20
    calls: list[str] = []
    original = game_encounter_tracker.combatant_rows

    def counting(key: str, s: Any) -> Any:
        calls.append(key)
        return original(key, s)

    monkeypatch.setattr(game_encounter_tracker, "combatant_rows", counting)
    run(log_store, apply_job(tracker, events[:1], create=True))   # type: ignore[arg-type]
    assert len(calls) == 2   # before (empty) and after
    for event in events[1:10]:
        run(log_store, apply_job(tracker, [event]))   # type: ignore[arg-type]
    assert len(calls) == 2 + 9
    hit = next(e for e in events[10:] if e.type == "CombatantHitPointsChanged")
    with pytest.raises(RuntimeError):
        run(log_store, apply_job(tracker, [hit], fail=True))   # type: ignore[arg-type]
    calls.clear()
    run(log_store, apply_job(tracker, events[10:11]))   # type: ignore[arg-type]
    assert len(calls) == 2   # the row's state: its rows computed again
    for event in events[11:]:
        run(log_store, apply_job(tracker, [event]))   # type: ignore[arg-type]
    with log_store.read() as session:
        stored = sorted(tuple(r) for r in session.execute(sa.select(COMBATANTS)))
    expected = sorted(original("ambush-1", fold("encounter", events)).values())
    assert stored == expected and len(stored) > 3
