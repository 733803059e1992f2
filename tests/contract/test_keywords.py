"""Keyword index contract: ranking, filters, deletes and upserts, hostile query text."""

from __future__ import annotations

from typing import Any

import pytest
from contract_search import (  # type: ignore[import-not-found]
    CHUNKS_TABLE,
    FTS_TABLE,
    chunk_rows,
    delete_chunks,
    open_search_store,
    write_chunks,
)

from questlog.search import indexes
from questlog.storage.keywords import KeywordIndex, KeywordRow
from questlog.storage.vectors import Filters

NAME_WEIGHT = 4.0

DOCS = {  # id: (type, pack, name, text)
    1: ("spells", "srd", "Fireball", "A bright streak of fire blossoms into an explosion of fire."),
    2: ("spells", "srd", "Fire Bolt", "You hurl a mote of fire at a creature or object."),
    3: ("spells", "srd", "Ice Storm", "A hail of rock-hard ice pounds the ground."),
    4: ("monsters", "srd", "Fire Elemental", "A creature of living fire that burns what it touches."),
    5: ("spells", "homebrew", "Ember Choir", "Singing fire that warms allies."),
    6: ("spells", "srd", "Cone of Cold", "A blast of cold air and ice erupts from your hands."),
    7: ("rules", "srd", "Cover", "Walls, trees and creatures can provide cover."),
}


@pytest.fixture
def indexed(backend: Any) -> Any:
    with open_search_store(backend) as store:
        index = indexes.keyword_index(FTS_TABLE, CHUNKS_TABLE)
        ids = sorted(DOCS)

        def job(session: Any) -> None:
            write_chunks(session, chunk_rows(
                ids, [DOCS[i][0] for i in ids], [DOCS[i][1] for i in ids], [None] * len(ids),
                [DOCS[i][2] for i in ids], [DOCS[i][3] for i in ids]))
            index.upsert(session, [KeywordRow(i, DOCS[i][2], DOCS[i][3]) for i in ids])

        store.write(job)
        yield store, index


def match(store: Any, index: KeywordIndex, text: str, filters: Filters | None = None,
          k: int = 10) -> list[int]:
    with store.read() as session:
        hits = index.match(session, text, k, filters or Filters(), NAME_WEIGHT)
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    return [cid for cid, _ in hits]


def test_more_and_rarer_matches_rank_first(indexed: Any) -> None:
    store, index = indexed
    # "hail" is in one chunk, "fire" in four: the rare word's chunk leads.
    assert match(store, index, "fire hail")[0] == 3
    # Both words beat one of them.
    got = match(store, index, "ice hail")
    assert got[:2] == [3, 6]
    # Every chunk with the word, and no other.
    assert set(match(store, index, "fire")) == {1, 2, 4, 5}
    # The name counts more than the text: "Fire Bolt" / "Fireball" are not the same token,
    # but a name hit outranks a text-only hit of the same word.
    assert match(store, index, "cover")[0] == 7
    assert match(store, index, "creature") != []


def test_filters_are_part_of_the_match(indexed: Any) -> None:
    store, index = indexed
    assert match(store, index, "fire", Filters(types=("monsters",))) == [4]
    assert match(store, index, "fire", Filters(packs=("homebrew",))) == [5]
    assert set(match(store, index, "fire", Filters(types=("spells",), packs=("srd",)))) == {1, 2}
    assert match(store, index, "fire", Filters(types=("rules",))) == []
    assert len(match(store, index, "fire", k=2)) == 2


def test_deletes_and_upserts_replace_what_is_matched(indexed: Any) -> None:
    store, index = indexed

    def job(session: Any) -> None:
        delete_chunks(session, [4])
        index.delete(session, [4, 999])  # an unknown id is ignored
        index.upsert(session, [KeywordRow(2, "Frost Bolt", "You hurl a mote of frost.")])

    store.write(job)
    assert set(match(store, index, "fire")) == {1, 5}
    assert match(store, index, "frost") == [2]
    assert match(store, index, "fire", Filters(types=("monsters",))) == []


HOSTILE = ['"', '"fire', 'fire" OR', "AND", "OR", "NOT fire", "fire*", "^fire", "NEAR(fire ice)",
           "name: fire", "text:", "(", ")", "fire)", "-fire", ":", "*", "'", "%", "_",
           "'; DROP TABLE search_chunks; --", "fire\x00hail", "\x00", "fire " * 20000,
           "x" * 100_000, "ﬁre ❄ 🔥", "\\", "fire AND (ice OR"]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_query_text_is_safe(indexed: Any, text: str) -> None:
    store, index = indexed
    got = match(store, index, text)
    assert set(got) <= set(DOCS)
    if "fire" in text and "NOT" not in text and not text.startswith("-"):
        assert got, text
    # Nothing was changed by the query text.
    assert set(match(store, index, "fire")) == {1, 2, 4, 5}
