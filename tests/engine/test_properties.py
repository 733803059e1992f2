"""Hypothesis: projections are deterministic however the log was appended."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from questlog import NewEvent, Store

streams = st.sampled_from(["campaign-1", "campaign-2", "character-a", "character-b",
                           "encounter-x"])
types = st.sampled_from(["Created", "Damaged", "Healed", "Said", "Moved"])
appends = st.lists(st.tuples(streams, st.lists(st.tuples(types, st.integers(0, 99)),
                                               min_size=1, max_size=5)),
                   min_size=1, max_size=15)


def _events(batch: list[tuple[str, int]]) -> list[NewEvent]:
    return [NewEvent(type=t, data={"n": n}) for t, n in batch]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log=appends)
def test_incremental_equals_rebuild_and_one_call_equals_many(
        log: list[tuple[str, list[tuple[str, int]]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        many = Store.open(Path(tmp) / "many.db")
        one = Store.open(Path(tmp) / "one.db")
        try:
            for stream, batch in log:
                many.append(stream, _events(batch))
                many.projections.catch_up()  # incremental, after every call
            incremental = many.projections.hashes()
            many.projections.rebuild()
            assert many.projections.hashes() == incremental
            one.append_many([(s, _events(b), "any") for s, b in log])
            one.projections.catch_up()
            assert one.projections.hashes() == incremental
        finally:
            many.close()
            one.close()
