"""Hostile search text never errors, never reaches SQL, and leaves the store intact."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from questlog import Store
from questlog.errors import ContentPackNotFound, UnknownContentType
from questlog.search.api import InvalidSearchQuery

FTS5_BITS = ['"', "'", "*", "^", "(", ")", ":", "-", "+", "NEAR", "NEAR(", "AND", "OR", "NOT",
             "{", "}", "\x00", ";", "--", "/*", "*/", "\\", "%", "_", "col:", "NEAR(a b, 2)",
             "'; DROP TABLE events; --", '"; DELETE FROM search_chunks; --', "rank MATCH",
             "search_fts", "𝔉𝔦𝔯𝔢", "火の玉", "🐉", "\u202e", "\ufeff", "\ud800"]

hostile = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(FTS5_BITS) | st.text(min_size=1, max_size=8), min_size=1,
             max_size=12).map(" ".join),
    st.lists(st.sampled_from(FTS5_BITS), min_size=1, max_size=12).map("".join),
    st.integers(min_value=1, max_value=12).map(lambda n: "fire " * (2000 * n // 5)),
)


def _search_all_ways(store: Store, text: str) -> None:
    for mode in ("hybrid", "vector", "keyword"):
        try:
            hits: list[Any] = store.search(text, k=5, mode=mode)  # type: ignore[arg-type]
        except InvalidSearchQuery:
            assert not text.replace("\x00", " ").strip(), repr(text)
            continue
        assert len(hits) <= 5
        # Hostile type and pack names are compared as values: unknown, so an error (never
        # "no hits", never SQL).
        with pytest.raises(UnknownContentType):
            store.search(text, types=["spells", "'; DROP TABLE events; --"],
                         packs=['"x" OR 1=1'], k=3, mode=mode)  # type: ignore[arg-type]
        with pytest.raises(ContentPackNotFound):
            store.search(text, types=["spells"], packs=['"x" OR 1=1'], k=3,
                         mode=mode)  # type: ignore[arg-type]


def test_hostile_strings_return_normally(small_store: Store) -> None:
    events_before = small_store.head_position()

    @settings(max_examples=120, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(text=hostile)
    @example(text="'; DROP TABLE events; --")
    @example(text='"unterminated')
    @example(text="NEAR(fire")
    @example(text="fire AND")
    @example(text="\x00\x00")
    @example(text="x" * 10_240)
    @example(text="ünïcödé ﷽ \ud800 surrogate")
    def run(text: str) -> None:
        _search_all_ways(small_store, text)

    run()
    assert small_store.head_position() == events_before
    small_store.verify()  # raises on any fault in the log
    with small_store.read() as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM search_chunks").fetchone()[0] > 0
    assert small_store.search("goblin", k=1)[0].index == "goblin"


@pytest.mark.parametrize("text", ['"magic missile" OR fireball', "fire*", "NEAR(cold ray, 3)"])
def test_valid_fts5_syntax_is_honoured(small_store: Store, text: str) -> None:
    hits = small_store.search(text, mode="keyword", k=5)
    assert hits and all("keyword" in h.signals for h in hits)
