"""The in-process read caches keyed by checkpoint: hits are cheap and never stale.

The Hypothesis test drives imports and unrelated appends from one thread while reader
threads look the same entry up (and run the same keyword search) again and again: every
answer must be at least as new as the last write committed before the read began.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from questlog import Store
from questlog.caching import PositionLRU
from questlog.search.embedder import HashingEmbedder, set_default_embedder
from questlog.settings import Settings

STARTER = Path(__file__).resolve().parents[2] / "data" / "packs" / "starter"
SPELL = next(s for s in json.loads((STARTER / "spells.json").read_text())
             if s["index"] == "lantern-ward")


def _write_pack(root: Path, version: int) -> Path:
    root.mkdir(exist_ok=True)
    (root / "spells.json").write_text(json.dumps([{**SPELL, "desc": [f"version {version}"]}]))
    return root


def _version_of(text: str) -> int:
    found = re.search(r"version (\d+)", text)
    assert found is not None, text
    return int(found.group(1))


def test_lru_is_bounded_and_keyed_by_token() -> None:
    cache: PositionLRU[int] = PositionLRU(2)
    cache.put("t1", "a", 1)
    assert cache.get("t2", "a") is None  # another checkpoint: a miss, never the old value
    cache.put("t1", "b", 2)
    cache.put("t1", "c", 3)
    assert len(cache) == 2 and cache.get("t1", "a") is None  # least recently used went
    assert cache.get("t1", "c") == 3
    off: PositionLRU[int] = PositionLRU(0)
    off.put("t", "k", 1)
    assert off.get("t", "k") is None and len(off) == 0


def test_a_hot_entry_is_served_from_the_cache_as_a_private_copy(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with Store.open(path, settings=Settings(db=path)) as store:
        store.content.import_pack(_write_pack(tmp_path / "pack", 1), pack="tiny")
        first = store.content.get("spells", "lantern-ward")
        first.desc.append("changed by the caller")  # type: ignore[attr-defined]
        hits = store.content._entries.hits
        again = store.content.get("spells", "lantern-ward")
        assert store.content._entries.hits == hits + 1
        assert again.desc == ["version 1"]  # type: ignore[attr-defined]
        assert again is not store.content.get("spells", "lantern-ward")


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(writes=st.lists(st.sampled_from(["import", "append"]), min_size=1, max_size=6),
       readers=st.integers(min_value=1, max_value=3),
       cache_entries=st.sampled_from([1, 4, 1024]))
def test_no_read_is_older_than_the_last_committed_write(
        writes: list[str], readers: int, cache_entries: int) -> None:
    # The index is built with the deterministic hashing embedder: keyword search (asked
    # here) never embeds the query, and what is tested is freshness, not ranking.
    set_default_embedder(HashingEmbedder(64))
    try:
        _race(writes, readers, cache_entries)
    finally:
        set_default_embedder(None)


def _race(writes: list[str], readers: int, cache_entries: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "c.db"
        with Store.open(path, settings=Settings(db=path, read_cache_entries=cache_entries)) \
                as store:
            store.content.import_pack(_write_pack(root / "pack", 0), pack="tiny")
            store.projections.catch_up(["search_index"])
            committed = [0]  # the newest version whose import has returned
            done = threading.Event()
            failures: list[str] = []

            def write() -> None:
                try:
                    version = 0
                    for op in writes:
                        if op == "import":
                            version += 1
                            store.content.import_pack(_write_pack(root / "pack", version),
                                                      pack="tiny")
                            store.projections.catch_up(["search_index"])
                            committed[0] = version
                        else:  # moves the content checkpoint, changes no entry
                            store.append("campaign-1", [{"type": "Noted", "data": {}}])
                finally:
                    done.set()

            def read() -> None:
                while True:
                    finished = done.is_set()  # one more round after the last write
                    floor = committed[0]
                    entry = store.content.get("spells", "lantern-ward")
                    got = _version_of(entry.desc[0])  # type: ignore[attr-defined]
                    if got < floor:
                        failures.append(f"entry version {got} after {floor} was committed")
                    hits = store.search("version", types=["spells"], mode="keyword", k=1)
                    if not hits or _version_of(hits[0].text) < floor:
                        failures.append(f"search answered {hits!r} after {floor}")
                    if finished:
                        return

            threads = [threading.Thread(target=read) for _ in range(readers)]
            writer = threading.Thread(target=write)
            for t in [*threads, writer]:
                t.start()
            for t in [writer, *threads]:
                t.join(timeout=60)
            assert not failures, failures
            final = store.content.get("spells", "lantern-ward")
            assert _version_of(final.desc[0]) == committed[0]  # type: ignore[attr-defined]
