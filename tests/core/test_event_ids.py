"""Event ids: UUIDv7 text (time-ordered, random tail), one draw of random bits per call."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from questlog import Store, events
from questlog.events import new_event_id, new_event_id_text, new_event_id_texts


def check_v7(text: str, before_ms: int, after_ms: int) -> None:
    parsed = uuid.UUID(text)
    assert str(parsed) == text
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert before_ms <= parsed.int >> 80 <= after_ms


def test_every_way_of_making_an_id_gives_unique_uuid7_of_now() -> None:
    before = time.time_ns() // 1_000_000
    made = [*new_event_id_texts(20_000), *(new_event_id_text() for _ in range(2_000)),
            *(str(new_event_id()) for _ in range(200)), *new_event_id_texts(1)]
    after = time.time_ns() // 1_000_000
    for text in made:
        check_v7(text, before, after)
    assert len(set(made)) == len(made)
    # The variant nibble takes each of its four values (the random bits are not lost).
    assert {t[19] for t in made} == set("89ab")
    assert len({t[15:18] + t[20:23] for t in made}) > 20_000  # random bits differ


def test_a_call_draws_its_ids_random_bits_once(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    draws: list[int] = []
    real = os.urandom

    def urandom(n: int) -> bytes:
        draws.append(n)
        return real(n)

    store = Store.open(tmp_path / "ids.db", projectors=[])
    try:
        store.append("telemetry-0", [{"type": "Started"}])  # the store's own start-up draws
        monkeypatch.setattr(events.os, "urandom", urandom)
        result = store.append("telemetry-1", [{"type": "Pinged"} for _ in range(500)])
        assert draws == [5000]  # each draw releases the GIL: one per call, not per event
        stored = list(store.read_stream("telemetry-1"))
        assert [e.position for e in stored] == result.positions
        assert len({e.event_id for e in stored}) == 500
        before = time.time_ns() // 1_000_000 - 60_000
        for e in stored:
            check_v7(e.event_id, before, time.time_ns() // 1_000_000)
    finally:
        store.close()
