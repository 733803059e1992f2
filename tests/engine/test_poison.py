"""Poison events park one projector (inline, catch-up, rebuild, replay); `projections skip`
steps over one on purpose and is recorded in the log; `replay --check` reads a log only."""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import engine_helpers as h
import pytest

from questlog import NewEvent, Store
from questlog.cli import main
from questlog.errors import ProjectionError
from questlog.projection.registry import discover

EVENTS = 10_000
POISON_LINE = 5_001  # 1-based line of the malformed event: its position in a fresh store
NS = uuid.UUID("6b1d8f4e-2f63-4c8e-9a53-0d5f7b3c2a11")


def _projectors() -> list[Any]:
    """Every shipped projector, and one test projector that poison events can stop."""
    return [h.Tally(), *discover()]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """Run the real `questlog` entry point in-process (so the test projector is the
    discovered set) and return (exit code, stdout, stderr)."""
    monkeypatch.setattr("questlog.projection.registry.discover", _projectors)

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["questlog", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    return run


def _line(n: int, amount: object) -> str:
    return json.dumps({"event_id": str(uuid.uuid5(NS, str(n))), "stream_id": f"score-{n % 50}",
                       "type": "Scored" if n % 10 else "Noted", "data": {"amount": amount}})


def _logs(tmp_path: Path) -> tuple[Path, Path]:
    """A 10k-event log with one malformed event in the middle, and the same without it."""
    lines = [_line(n, "lots" if n == POISON_LINE else n % 7) for n in range(1, EVENTS + 1)]
    assert json.loads(lines[POISON_LINE - 1])["type"] == "Scored"
    full, clean = tmp_path / "full.jsonl", tmp_path / "clean.jsonl"
    full.write_text("\n".join(lines) + "\n")
    clean.write_text("\n".join(lines[:POISON_LINE - 1] + lines[POISON_LINE:]) + "\n")
    return full, clean


def _status(cli: Any, db: Path) -> dict[str, dict[str, Any]]:
    code, out, _ = cli("--db", str(db), "--json", "projections", "status")
    assert code == 0
    return {r["name"]: r for r in json.loads(out)}


def _hashes(cli: Any, db: Path) -> dict[str, str]:
    code, out, err = cli("--db", str(db), "--json", "projections", "hash", "--catch-up")
    assert code == 0, err
    return dict(json.loads(out))


def test_poison_event_in_a_10k_log_parks_one_projector(tmp_path: Path, cli: Any) -> None:
    full, clean = _logs(tmp_path)
    db = tmp_path / "a.db"

    # replay stores every event, finishes the others and exits 3 naming the projector.
    code, out, err = cli("--db", str(db), "replay", str(full))
    assert code == 3, err
    assert f"tally at position {POISON_LINE} (Scored)" in err
    assert "appended 10000 event(s)" in out
    status = _status(cli, db)
    tally = status["tally"]
    assert tally["state"] == "parked"
    assert (tally["position"], tally["error_position"], tally["error_type"]) == (
        POISON_LINE - 1, POISON_LINE, "Scored")
    assert "amount must be an integer" in tally["last_error"]
    others = [r for name, r in status.items() if name != "tally"]
    assert len(others) == len(discover()) >= 10
    for other in others:
        assert other["state"] == "live", other
        assert other["position"] == other["head"] == EVENTS, other
    code, text, _ = cli("--db", str(db), "projections", "status")
    assert code == 0
    assert f"parked  (error at {POISON_LINE} Scored: " in text

    # rebuild: every model rebuilt, the same projector parked at the same place, exit 3.
    code, out, err = cli("--db", str(db), "projections", "rebuild")
    assert code == 3 and f"tally at position {POISON_LINE}" in err
    assert out.startswith("rebuilt ") and len(out.split(", ")) == len(status)
    status = _status(cli, db)
    assert status["tally"]["state"] == "parked"
    assert status["tally"]["position"] == POISON_LINE - 1
    assert status["event_counts"]["position"] == EVENTS

    # unpark only retries: the projector parks again on the same event.
    assert cli("--db", str(db), "projections", "unpark", "tally")[0] == 0
    assert cli("--db", str(db), "projections", "run", "--once")[0] == 3
    assert _status(cli, db)["tally"]["error_position"] == POISON_LINE

    # skip: recorded as an event, the projector steps over that one position to the head.
    code, out, err = cli("--db", str(db), "projections", "skip", "tally", str(POISON_LINE),
                         "--reason", "producer bug")
    assert code == 0, err
    status = _status(cli, db)
    assert status["tally"]["state"] == "live" and status["tally"]["last_error"] is None
    assert status["tally"]["position"] == EVENTS + 1  # the skip event is in the log
    with Store.open(db, projectors=[]) as store:
        (skip,) = store.read_stream("projector-tally")
    assert skip.type == "ProjectorEventSkipped"
    assert skip.data["position"] == POISON_LINE and skip.data["reason"] == "producer bug"

    # The parked model now equals the model of the log without that event ...
    clean_db = tmp_path / "clean.db"
    assert cli("--db", str(clean_db), "replay", str(clean))[0] == 0
    without = _hashes(cli, clean_db)
    assert _hashes(cli, db)["tally"] == without["tally"]
    # ... also when rebuilt from the log (the rebuild honours the recorded skip).
    assert cli("--db", str(db), "projections", "rebuild", "tally")[0] == 0
    after = _hashes(cli, db)
    assert after["tally"] == without["tally"]
    # The models that count every event do see the poison and the skip event.
    assert after["event_counts"] != without["event_counts"]

    # A replay of this store's log makes the same decision: same digests, exit 0.
    exported = tmp_path / "exported.jsonl"
    code, out, _ = cli("--db", str(db), "events", "export")
    exported.write_text(out)
    code, _, err = cli("--db", str(tmp_path / "again.db"), "replay", str(exported))
    assert code == 0, err
    assert _hashes(cli, tmp_path / "again.db") == after


def test_validated_append_fails_but_recorded_facts_park(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db", projectors=_projectors()) as store:
        store.append("score-1", [NewEvent(type="Scored", data={"amount": 1})])
        with pytest.raises(ProjectionError, match="amount must be an integer"):
            store.append("score-1", [NewEvent(type="Scored", data={"amount": "x"})])
        assert store.head_position() == 1
        store.append("score-1", [NewEvent(type="Scored", data={"amount": 2}),
                                 NewEvent(type="Scored", data={"amount": "x"}),
                                 NewEvent(type="Scored", data={"amount": 4})], validate=False)
        assert store.head_position() == 4
        store.append("score-2", [NewEvent(type="Scored", data={"amount": 5})])
        store.append("notes-1", [NewEvent(type="Noted")])
        status = {r["name"]: r for r in store.projections.status()}
        # The event before the poison in the same call is applied; nothing after it.
        assert (status["tally"]["state"], status["tally"]["position"]) == ("parked", 2)
        with store.read() as conn:
            assert conn.execute("SELECT total FROM rm_tally").fetchall() == [(3,)]
        with pytest.raises(ProjectionError, match="does not handle"):
            store.projections.skip("tally", 6)
        with pytest.raises(ProjectionError, match="already applied"):
            store.projections.skip("tally", 2)
        with pytest.raises(ProjectionError, match="no event at position 99"):
            store.projections.skip("tally", 99)
        row = store.projections.skip("tally", 3)
        assert (row["state"], row["position"]) == ("live", store.head_position())
        with store.read() as conn:
            assert conn.execute(
                "SELECT stream_id, total FROM rm_tally ORDER BY 1").fetchall() == [
                ("score-1", 7), ("score-2", 5)]
        # A rebuild of every model at once honours the skip; a new poison parks it again.
        store.append("score-2", [NewEvent(type="Scored", data={"amount": None})], validate=False)
        store.projections.rebuild()
        status = {r["name"]: r for r in store.projections.status()}
        assert (status["tally"]["state"], status["tally"]["error_position"]) == ("parked", 8)
        assert status["stream_catalog"]["position"] == status["event_counts"]["position"] == 8
        with store.read() as conn:
            assert conn.execute("SELECT sum(total) FROM rm_tally").fetchone() == (12,)


def test_replay_check_reports_every_problem_and_writes_nothing(tmp_path: Path,
                                                               cli: Any) -> None:
    fixture = Path(__file__).parents[1] / "fixtures" / "game_session.jsonl"
    valid_game_line = fixture.read_text().splitlines()[0]
    good = _line(1, 3)
    lines = [
        good,                                                               # 1 fine
        "{not json",                                                        # 2
        "[1, 2]",                                                           # 3
        json.dumps({"event_id": str(uuid.uuid4()), "type": "Scored"}),      # 4
        json.dumps({"event_id": str(uuid.uuid4()), "stream_id": "bad stream!",
                    "type": "9Lives", "data": {}}),                         # 5
        good,                                                               # 6 duplicate
        json.dumps({"event_id": str(uuid.uuid4()), "stream_id": "character-ann",
                    "type": "DamageTaken", "data": {"amount": "lots", "hp_after": 3}}),  # 7
        json.dumps({"event_id": "not-a-uuid", "stream_id": "s-1", "type": "Noted",
                    "data": [], "metadata": "x"}),                          # 8
        "",
        valid_game_line,                                                    # 10 fine
        json.dumps({"event_id": str(uuid.uuid4()), "stream_id": "character-ann",
                    "type": "DamageTaken", "schema_version": 99,
                    "data": {"amount": 1, "hp_before": 4, "hp_after": 3}}),  # 11
    ]
    log = tmp_path / "foreign.jsonl"
    log.write_text("\n".join(lines) + "\n")
    db = tmp_path / "never.db"
    code, out, err = cli("--db", str(db), "--json", "replay", "--check", str(log))
    assert code == 4 and "LogCheckFailed" in err
    assert not db.exists()
    report = json.loads(out)
    found = {(p["line"], p["kind"], p["field"]) for p in report["problems"]}
    assert found == {
        (2, "unparsable", "line"), (3, "unparsable", "line"),
        (4, "missing_field", "stream_id"), (4, "missing_field", "data"),
        (5, "bad_stream_id", "stream_id"), (5, "bad_type", "type"),
        (6, "duplicate_event_id", "event_id"),
        (7, "invalid_payload", "data.amount"), (7, "invalid_payload", "data.hp_before"),
        (8, "bad_envelope", "event_id"), (8, "bad_envelope", "data"),
        (8, "bad_envelope", "metadata"), (11, "invalid_payload", "schema_version"),
    }
    by_line = {(p["line"], p["field"]): p for p in report["problems"]}
    assert by_line[(7, "data.amount")]["type"] == "DamageTaken"
    assert '"lots"' in by_line[(7, "data.amount")]["found"]
    assert "also on line 1" in by_line[(6, "event_id")]["found"]
    assert report["summary"] == {"bad_envelope": 3, "bad_stream_id": 1, "bad_type": 1,
                                 "duplicate_event_id": 1, "invalid_payload": 3,
                                 "missing_field": 2, "unparsable": 2}
    assert (report["lines"], report["bad_lines"]) == (10, 8)

    code, text, _ = cli("replay", "--check", str(log))
    assert code == 4
    assert "line 7: DamageTaken data.amount: " in text
    assert text.strip().splitlines()[-1].startswith("13 problem(s) on 8 of 10 line(s)")

    clean = tmp_path / "clean.jsonl"
    clean.write_text("\n".join([good, valid_game_line]) + "\n")
    code, text, _ = cli("replay", "--check", str(clean))
    assert code == 0 and text.startswith("0 problem(s)")


def test_one_batch_mixing_commands_and_recorded_facts(tmp_path: Path) -> None:
    """A validated call and a trusted call with poison events in the same writer batch:
    the validated one fails alone, the trusted one is stored and parks the projector."""
    with Store.open(tmp_path / "m.db", projectors=_projectors()) as store:
        store.append("score-0", [NewEvent(type="Scored", data={"amount": 1})])
        gate, started = threading.Event(), threading.Event()

        def hold(conn: object) -> None:
            started.set()
            gate.wait(10)

        commits = store.writer.commits
        holder = threading.Thread(target=store.write, args=(hold,))
        holder.start()
        started.wait(5)
        results: dict[str, object] = {}

        def call(stream: str, amount: object, validate: bool) -> None:
            try:
                results[stream] = store.append(
                    stream, [NewEvent(type="Scored", data={"amount": amount})],
                    validate=validate)
            except Exception as exc:
                results[stream] = exc

        callers = [threading.Thread(target=call, args=args) for args in (
            ("score-1", "bad", True), ("score-2", 2, True), ("score-3", "bad", False),
            ("score-4", 4, False))]
        for c in callers:
            c.start()
            time.sleep(0.05)  # queued in this order behind the holder: one batch
        gate.set()
        for c in [*callers, holder]:
            c.join(10)
        assert store.writer.commits == commits + 2  # the holder's batch, then all four calls
        assert isinstance(results["score-1"], ProjectionError)
        assert [e.stream_id for e in store.read_all()] == [
            "score-0", "score-2", "score-3", "score-4"]
        tally = {r["name"]: r for r in store.projections.status()}["tally"]
        poison_at = store.read_stream("score-3")[0].position
        assert (tally["state"], tally["error_position"]) == ("parked", poison_at)
        with store.read() as conn:
            assert conn.execute("SELECT stream_id FROM rm_tally ORDER BY 1").fetchall() == [
                ("score-0",), ("score-2",)]


def test_replay_check_names_json_the_store_refuses_beyond_limits(tmp_path: Path,
                                                                  cli: Any) -> None:
    deep: Any = 1
    for _ in range(200):
        deep = [deep]
    envelope = {"event_id": str(uuid.uuid4()), "stream_id": "s-1", "type": "Noted"}
    log = tmp_path / "limits.jsonl"
    log.write_text("\n".join([
        json.dumps({**envelope, "data": {"deep": deep}}),
        json.dumps({**envelope, "event_id": str(uuid.uuid4()), "data": {}})[:-1]
        + ', "n": ' + "9" * 5000 + "}",
        "{not json",
    ]) + "\n")
    code, out, _ = cli("--json", "replay", "--check", str(log))
    assert code == 4
    kinds = {(p["line"], p["kind"]) for p in json.loads(out)["problems"]}
    assert kinds == {(1, "beyond_limits"), (2, "beyond_limits"), (3, "unparsable")}
