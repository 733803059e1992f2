"""Input rules (issue 17, points 3, 6, 7): one nesting limit for every way in, JSON numbers
that cannot be stored refused with one line, ids and types matched whole, idempotency over
the whole event."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

import questlog
from questlog import NO_STREAM, NewEvent, Store
from questlog.aio import AsyncStore
from questlog.errors import (
    ContentValidationError,
    DuplicateEventId,
    InvalidEvent,
    NestingTooDeep,
    QuestlogError,
)
from questlog.replay import replay_file
from questlog.settings import Settings

QUESTLOG = Path(sys.executable).parent / "questlog"
LIMIT = Settings().max_json_depth


def nested(depth: int) -> dict[str, Any]:
    """A dict nested `depth` levels deep ({"k": {"k": ... {}}})."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


def cli(db: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os
    return subprocess.run([str(QUESTLOG), "--db", str(db), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    return done.stderr


# -- point 3: one nesting limit ----------------------------------------------------------------


def test_the_default_limit_fits_the_game_and_the_srd_and_stays_serialisable() -> None:
    # The SRD's deepest entry is 13 levels (14 in its event); responses add a few levels,
    # and HTTP parsers/serialisers give up around 200.
    assert 20 <= LIMIT <= 100


@pytest.mark.parametrize("field", ["data", "metadata"])
def test_python_api_refuses_deeper_than_the_limit_and_writes_nothing(
        bare_store: Store, field: str) -> None:
    bare_store.append("campaign-1", [NewEvent(type="Ok", **{field: nested(LIMIT)})])
    event = NewEvent(type="TooDeep", **{field: nested(300)})
    with pytest.raises(NestingTooDeep) as info:
        bare_store.append("campaign-1", [NewEvent(type="Fine"), event])
    err = info.value
    assert isinstance(err, InvalidEvent)
    assert (err.event_type, err.event_id, err.field, err.depth, err.limit) == (
        "TooDeep", str(event.event_id), field, 300, LIMIT)
    assert "'TooDeep'" in str(err) and "300 levels" in str(err) and f"limit is {LIMIT}" in str(err)
    assert bare_store.head_position() == 1
    # Past the JSON encoder's own recursion limit: still the same clear error.
    with pytest.raises(NestingTooDeep, match="5000 levels"):
        bare_store.append_many([("campaign-2", [NewEvent(type="X", data=nested(5000))], NO_STREAM)])
    assert bare_store.head_position() == 1


def test_limit_is_one_setting(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db", settings=Settings(max_json_depth=5), projectors=[])
    try:
        store.append("c-1", [NewEvent(type="A", data=nested(5))])
        with pytest.raises(NestingTooDeep, match="limit is 5"):
            store.append("c-1", [NewEvent(type="A", data=nested(6))])
        with pytest.raises(NestingTooDeep):
            asyncio.run(AsyncStore(store).append("c-1", [NewEvent(type="A", data=nested(6))]))
    finally:
        store.close()


def test_replay_refuses_deep_events_and_huge_numbers(bare_store: Store, tmp_path: Path) -> None:
    line = {"event_id": str(uuid.uuid4()), "stream_id": "campaign-1", "type": "A",
            "data": nested(300)}
    log = tmp_path / "deep.jsonl"
    log.write_text(json.dumps(line) + "\n")
    with pytest.raises(NestingTooDeep, match="300 levels"):
        replay_file(bare_store, log)
    for number, message in (("1e400", "out of range"), ("9" * 5000, "digits"),
                            ("NaN", "not a JSON number")):
        log.write_text(f'{{"event_id": "{uuid.uuid4()}", "stream_id": "c-1", "type": "A", '
                       f'"data": {{"n": {number}}}}}\n')
        with pytest.raises(InvalidEvent, match=f"line 1: .*{message}"):
            replay_file(bare_store, log)
    assert bare_store.head_position() == 0


def test_content_import_refuses_deep_entries_and_huge_numbers(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "c.db", projectors=[])
    try:
        entry = {"index": "deep", "name": "Deep", "url": "/x", "desc": ["d"],
                 "extra": nested(LIMIT)}  # the entry's event is LIMIT + 2 deep
        pack = tmp_path / "pack"
        pack.mkdir()
        (pack / "widgets.json").write_text(json.dumps([entry]))
        with pytest.raises(ContentValidationError) as info:
            store.content.import_pack(pack, pack="p")
        [problem] = info.value.problems
        assert (problem.file, problem.entry) == ("widgets.json", "deep")
        assert f"limit is {LIMIT}" in problem.message
        for number, message in (("1e400", "out of range"), ("9" * 5000, "digits")):
            (pack / "widgets.json").write_text(
                f'[{{"index": "a", "name": "A", "url": "/a", "n": {number}}}]')
            with pytest.raises(ContentValidationError) as info:
                store.content.import_pack(pack, pack="p")
            assert message in info.value.problems[0].message
        assert store.head_position() == 0
    finally:
        store.close()


def test_cli_append_refuses_deep_and_huge_json_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    deep = one_line_error(cli(db, "events", "append", "c-1", "A", "--data",
                              json.dumps(nested(300))))
    assert "300 levels" in deep and f"limit is {LIMIT}" in deep
    for data, message in (('{"n": 1e400}', "out of range"), ('{"n": %s}' % ("1" * 5000), "digits"),
                          ('{"n": %s}' % ("[" * 3000 + "]" * 3000), "nested too deeply")):
        assert message in one_line_error(cli(db, "events", "append", "c-1", "A", "--data", data))
    limited = cli(db, "events", "append", "c-1", "A", "--data", json.dumps(nested(4)),
                  env={"QUESTLOG_MAX_JSON_DEPTH": "3"})
    assert "limit is 3" in one_line_error(limited)
    assert cli(db, "events", "append", "c-1", "A", "--data", json.dumps(nested(LIMIT))).returncode == 0


# -- point 6: ids and types matched whole; published names --------------------------------------


def test_trailing_newline_ids_and_types_are_refused(bare_store: Store) -> None:
    with pytest.raises(InvalidEvent, match="invalid stream id"):
        bare_store.append("campaign-7\n", [NewEvent(type="A")])
    with pytest.raises(InvalidEvent):
        bare_store.append("campaign-7", [{"type": "A\n"}])
    with pytest.raises(ValueError):
        NewEvent(type="A\n")
    assert bare_store.head_position() == 0


def test_patterns_and_errors_are_published_from_the_package_root() -> None:
    assert re.fullmatch(questlog.STREAM_ID_PATTERN, "campaign-7")
    assert not re.fullmatch(questlog.STREAM_ID_PATTERN, "campaign-7\n")
    assert re.fullmatch(questlog.EVENT_TYPE_PATTERN, "CampaignCreated")
    assert not re.fullmatch(questlog.EVENT_TYPE_PATTERN, "A\n")
    assert questlog.DuplicateEventId is DuplicateEventId
    assert questlog.InvalidEvent is InvalidEvent
    assert issubclass(questlog.NestingTooDeep, InvalidEvent)
    assert issubclass(InvalidEvent, QuestlogError)
    for name in ("STREAM_ID_PATTERN", "EVENT_TYPE_PATTERN", "DuplicateEventId", "InvalidEvent"):
        assert name in questlog.__all__


# -- point 7: idempotency compares the whole event ---------------------------------------------


@pytest.mark.parametrize("change", [{"metadata": {"actor": "mallory"}}, {"schema_version": 2},
                                    {"data": {"n": 2}}, {"type": "Other"}])
def test_a_retry_that_differs_anywhere_is_a_duplicate(bare_store: Store,
                                                      change: dict[str, Any]) -> None:
    event_id = uuid.uuid4()
    first = {"event_id": event_id, "type": "A", "data": {"n": 1}, "metadata": {"actor": "alice"},
             "schema_version": 1}
    result = bare_store.append("c-1", [NewEvent(**first)])
    assert bare_store.append("c-1", [NewEvent(**first)]) == result  # an exact retry
    with pytest.raises(DuplicateEventId, match=f"{event_id}.*differs in"):
        bare_store.append("c-1", [NewEvent(**{**first, **change})])
    assert bare_store.head_position() == 1
    # Also within one batch (the id planned earlier in the same call list).
    other = uuid.uuid4()
    with pytest.raises(DuplicateEventId):
        bare_store.append_many([
            ("c-2", [NewEvent(**{**first, "event_id": other})], NO_STREAM),
            ("c-2", [NewEvent(**{**first, **change, "event_id": other})], 1)])
    assert bare_store.head_position() == 1


def test_http_append_holds_the_same_limit(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from questlog.http import create_app

    path = tmp_path / "http.db"
    store = Store.open(path, settings=Settings(db=path, api_token="t0ken"), projectors=[])
    auth = {"Authorization": "Bearer t0ken"}
    try:
        with TestClient(create_app(store)) as client:
            ok = client.post("/streams/c-1/events", headers=auth,
                             json={"events": [{"type": "A", "data": nested(LIMIT)}]})
            assert ok.status_code == 200, ok.text
            deep = client.post("/streams/c-1/events", headers=auth,
                               json={"events": [{"type": "A", "data": nested(LIMIT + 1)}]})
            assert 400 <= deep.status_code < 500
            assert f"limit is {LIMIT}" in deep.text
            assert store.head_position() == 1
            assert client.get("/streams/c-1").status_code == 200
    finally:
        store.close()


def test_text_that_is_not_unicode_is_bad_input_not_a_write_failure(bare_store: Store,
                                                                    tmp_path: Path) -> None:
    # JSON's "\ud800" escape decodes to a lone surrogate that UTF-8 cannot hold (found by
    # benchmarks/fuzz_content_pack.py): refused before the writer, not a failed write.
    for event in (NewEvent(type="A", data={"a": "\ud800"}), NewEvent(type="A", metadata={"\udc00": 1})):
        with pytest.raises(InvalidEvent, match="lone surrogate"):
            bare_store.append("c-1", [event])
    assert bare_store.head_position() == 0
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "widgets.json").write_text('[{"index": "a", "name": "\\ud800", "url": "/a"}]')
    with pytest.raises(ContentValidationError) as info:
        bare_store.content.import_pack(pack, pack="p")
    assert "lone surrogate" in info.value.problems[0].message
