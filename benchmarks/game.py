"""Game-state figures, printed as one JSON line.

- apply latency (p50/p99 ms) of a typical AI response (5-10 commands over 3 streams)
  while 8 campaigns are played concurrently;
- loading a campaign aggregate of 100k events with a snapshot against without
  (target: >= 20x faster);
- rebuild rate of all game read models (events/s) against a raw-SQLite reference
  measured in the same run on the same events: one SELECT of the rows, json decode,
  result rows written with executemany in one transaction (target: >= 40 %).

    .venv/bin/python benchmarks/game.py [--campaigns 8] [--responses 30] [--events 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from questlog import NewEvent, Store  # noqa: E402
from questlog.settings import Settings  # noqa: E402

SESSION_LOG = REPO / "tests/fixtures/game_session.jsonl"
GAME_PROJECTORS = ["game_campaign_summary", "game_chat", "game_dice_requests",
                   "game_encounter_tracker", "game_inventory", "game_npcs", "game_party_sheet",
                   "game_quest_log"]
REMAP_IDS = ("greyhollow", "brann", "ilsa", "tomas", "wren", "ambush-1", "falls-2", "cave-3")


def srd_dir() -> Path | None:
    env = os.environ.get("QUESTLOG_SRD_DIR")
    path = Path(env) if env else REPO.parent / "shared/data/5e-srd-2014"
    return path if path.is_dir() else None


def monster_ref(srd: bool) -> dict[str, Any]:
    return ({"type": "monsters", "index": "goblin", "name": "Goblin"} if srd
            else {"type": "monsters", "name": "Goblin", "homebrew": True})


def play_campaign(store: Store, c: int, responses: int, srd: bool,
                  latencies: list[float]) -> None:
    game = store.game
    pcs = [f"pc{c}a", f"pc{c}b"]
    setup: list[dict[str, Any]] = [{"kind": "create_campaign", "campaign_id": f"camp{c}",
                                    "name": f"Bench {c}", "starting_location": {"name": "X"}}]
    setup += [{"kind": "create_character", "campaign_id": f"camp{c}", "character_id": pc,
               "name": pc, "max_hp": 40} for pc in pcs]
    setup.append({"kind": "start_encounter", "encounter_id": f"enc{c}", "campaign_id": f"camp{c}",
                  "combatants": [{"combatant_id": pc, "kind": "pc", "character_id": pc,
                                  "name": pc} for pc in pcs]
                  + [{"combatant_id": f"g{i}", "kind": "monster", "name": f"Goblin {i}",
                      "hp": 10_000, "max_hp": 10_000, "monster_ref": monster_ref(srd)}
                     for i in range(3)]})
    game.apply(setup, correlation_id=f"setup-{c}")
    for n in range(responses):
        pc = pcs[n % 2]
        goblin = f"g{n % 3}"
        response: list[dict[str, Any]] = [
            {"kind": "append_message", "campaign_id": f"camp{c}", "message_id": f"u{n}",
             "role": "user", "content": "I swing my axe at the goblin!"},
            {"kind": "record_dice_roll", "campaign_id": f"camp{c}", "roller_id": pc,
             "roller_kind": "pc", "roll_type": "attack", "formula": "1d20+5", "rolls": [14],
             "modifier": 5, "dc": 15},
            {"kind": "deal_damage", "target": {"encounter_id": f"enc{c}",
                                               "combatant_id": goblin}, "amount": 7},
            {"kind": "deal_damage", "target": {"encounter_id": f"enc{c}", "combatant_id": pc},
             "amount": 3},
            {"kind": "heal", "target": {"character_id": pc}, "amount": 3},
            {"kind": "apply_condition" if n % 2 == 0 else "remove_condition",
             "target": {"encounter_id": f"enc{c}", "combatant_id": goblin},
             "condition": "prone"},
            {"kind": "advance_turn", "encounter_id": f"enc{c}"},
            {"kind": "append_message", "campaign_id": f"camp{c}", "message_id": f"a{n}",
             "role": "assistant", "content": "The goblin staggers back. " * 8},
        ]
        started = time.perf_counter()
        game.apply(response, correlation_id=f"c{c}-r{n}")
        latencies.append(time.perf_counter() - started)


def bench_apply(tmp: Path, campaigns: int, responses: int) -> dict[str, Any]:
    srd = srd_dir()
    store = Store.open(tmp / "apply.db")
    try:
        if srd is not None:
            store.content.import_pack(srd, pack="srd")
        latencies: list[float] = []
        threads = [threading.Thread(target=play_campaign,
                                    args=(store, c, responses, srd is not None, latencies))
                   for c in range(campaigns)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        store.close()
    latencies.sort()
    return {"apply_p50_ms": round(statistics.median(latencies) * 1000, 2),
            "apply_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
            "apply_responses": len(latencies), "apply_concurrent_campaigns": campaigns,
            "apply_responses_per_s": round(len(latencies) / elapsed, 1),
            "apply_content_checked": srd is not None}


def bench_snapshots(tmp: Path, events: int) -> dict[str, Any]:
    # The log alone (no projectors): this measures the aggregate load, not projections.
    settings = Settings(db=tmp / "long.db", snapshot_every=200)
    store = Store.open(tmp / "long.db", settings=settings, projectors=[])
    try:
        store.append("campaign-long", [NewEvent(type="CampaignCreated", data={
            "campaign_id": "long", "name": "Long", "starting_location": {"name": "X"}})])
        chunk = 2000
        for start in range(1, events, chunk):
            batch = [NewEvent(type="MessageAppended", data={
                "message_id": f"m{i}", "role": "assistant" if i % 2 else "user",
                "content": f"message {i} " + "words " * 20, "is_dice_result": False})
                for i in range(start, min(events, start + chunk))]
            store.append("campaign-long", batch)
        game = store.game
        game.snapshot("campaign", "long")
        store.append("campaign-long", [NewEvent(type="MessageAppended", data={
            "message_id": f"t{i}", "role": "user", "content": "tail", "is_dice_result": False})
            for i in range(150)])   # a realistic tail below snapshot_every
        started = time.perf_counter()
        full = game.load("campaign", "long", use_snapshots=False)
        without = time.perf_counter() - started
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            snap = game.load("campaign", "long")
            runs.append(time.perf_counter() - started)
        with_snap = statistics.median(runs)
        assert snap.state == full.state and snap.from_snapshot
    finally:
        store.close()
    return {"load_events": full.version, "load_without_snapshot_ms": round(without * 1000, 1),
            "load_with_snapshot_ms": round(with_snap * 1000, 2),
            "load_speedup": round(without / with_snap, 1)}


def remapped_log(copies: int) -> list[tuple[str, NewEvent]]:
    """The recorded session, `copies` times, with every id made unique per copy."""
    lines = SESSION_LOG.read_text(encoding="utf-8").splitlines()
    out: list[tuple[str, NewEvent]] = []
    for k in range(copies):
        for line in lines:
            for token in REMAP_IDS:
                line = line.replace(f'"{token}', f'"{token}x{k}').replace(
                    f"-{token}", f"-{token}x{k}")
            obj = json.loads(line)
            out.append((obj["stream_id"], NewEvent(
                event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{k}/{obj['event_id']}"),
                type=obj["type"], data=obj["data"], metadata=obj["metadata"],
                schema_version=obj["schema_version"])))
    return out


def bench_rebuild(tmp: Path, copies: int) -> dict[str, Any]:
    path = tmp / "rebuild.db"
    store = Store.open(path)
    try:
        log = remapped_log(copies)
        for start in range(0, len(log), 500):
            calls: list[tuple[str, list[NewEvent], Any]] = []
            for stream, event in log[start:start + 500]:
                if calls and calls[-1][0] == stream:
                    calls[-1][1].append(event)
                else:
                    calls.append((stream, [event], "any"))
            store.append_many(calls)
        before = {k: v for k, v in store.projections.hashes().items() if k.startswith("game_")}
        started = time.perf_counter()
        store.projections.rebuild(GAME_PROJECTORS)
        rebuild_s = time.perf_counter() - started
        after = {k: v for k, v in store.projections.hashes().items() if k.startswith("game_")}
        assert before == after, "rebuild changed a read model"
    finally:
        store.close()
    reference_s = raw_reference(path, tmp / "reference.db")
    n = len(log)
    rate, ref_rate = n / rebuild_s, n / reference_s
    return {"rebuild_events": n, "rebuild_events_per_s": round(rate),
            "reference_events_per_s": round(ref_rate),
            "rebuild_vs_reference": round(rate / ref_rate, 3)}


def raw_reference(source: Path, target: Path) -> float:
    """Plain SQLite, as benchmarks/rebuild.py measures it: one SELECT of the game events,
    the same result rows computed in Python (the game projectors' own code, fed directly),
    written into fresh tables of another file in one transaction."""
    from questlog.events import RecordedEvent
    from questlog.projection.projector import ProjectionContext
    from questlog.projection.registry import discover
    from questlog.sqlite.driver import load_dbapi
    from questlog.sqlite.readmodels import READ_MODELS
    from questlog.sqlite.session import SQLiteSession

    projectors = [p for p in discover() if p.name in GAME_PROJECTORS]
    started = time.perf_counter()
    src = load_dbapi().connect(str(source))
    rows = src.execute(
        "SELECT position, event_id, stream_id, stream_version, category, type, "
        "schema_version, data, recorded_at FROM events "
        "WHERE category IN ('campaign', 'character', 'encounter') ORDER BY position").fetchall()
    events = [RecordedEvent(p, i, s, v, c, t, sv, json.loads(d), {}, at, "")
              for p, i, s, v, c, t, sv, d, at in rows]
    out = load_dbapi().connect(str(target), isolation_level=None)
    session = SQLiteSession(out)
    out.execute("BEGIN IMMEDIATE")
    for projector in projectors:
        tables = {t.name: t for t in projector.tables}
        for table in projector.tables:
            READ_MODELS.create(session, table)
        projector.apply(ProjectionContext(session, tables, READ_MODELS),
                        [e for e in events if projector.handles(e)])
    out.execute("COMMIT")
    src.close()
    out.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--campaigns", type=int, default=8)
    parser.add_argument("--responses", type=int, default=30)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--copies", type=int, default=60, help="session log copies to rebuild")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        figures: dict[str, Any] = {"benchmark": "game"}
        figures.update(bench_apply(tmp, args.campaigns, args.responses))
        figures.update(bench_snapshots(tmp, args.events))
        figures.update(bench_rebuild(tmp, args.copies))
    figures["targets"] = {"load_speedup": ">= 20", "rebuild_vs_reference": ">= 0.4"}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
