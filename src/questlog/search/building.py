"""Building what the search index is missing, when a search needs it, with progress.

After a content import the `search_index` projector is behind the log. A
search then builds what is missing in two steps:

1. **Embed.** The chunk texts the catch-up will need (of the entries the pending
   events touch) that the embedding cache does not hold yet are embedded,
   shortest first, in batches of `QUESTLOG_SEARCH_BUILD_BATCH` chunks; each
   batch is committed to the embedding cache through the writer queue before
   the next starts. An interruption keeps every finished batch: the next
   search finds them in the cache and embeds only the rest.
2. **Apply.** The projector catches up as usual; every vector it needs is in
   the cache now, so this step only writes rows (seconds for the whole SRD).

Progress is reported through `BuildProgress` (the CLI draws a bar with
entries, chunks/s and ETA from it).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..storage.search_chunks import Key
from . import cache
from . import index as search_index
from .embedder import Embedder, default_embedder
from .indexes import embedding_cache

if TYPE_CHECKING:
    from ..projection.projector import Projector
    from ..store import Store

PROJECTOR = "search_index"


@dataclass
class BuildPlan:
    """What a build will do: entries and chunks to index, and which texts to embed."""

    entries: int
    chunks: int
    cached: int
    to_embed: dict[str, str]  # text hash -> text, not in the embedding cache yet
    entries_of: dict[str, list[Key]] = field(repr=False, default_factory=dict)
    waiting: dict[Key, int] = field(repr=False, default_factory=dict)

    @property
    def entries_ready(self) -> int:
        """Entries whose every chunk has a vector (cached or embedded by now)."""
        return self.entries - sum(1 for n in self.waiting.values() if n > 0)


@dataclass(frozen=True)
class BuildReport:
    entries: int
    chunks: int
    cached: int
    embedded: int
    embed_seconds: float
    seconds: float

    @property
    def chunks_per_s(self) -> float:
        return self.embedded / self.embed_seconds if self.embed_seconds > 0 else 0.0

    def summary(self) -> str:
        rate = f" at {self.chunks_per_s:.0f} chunks/s" if self.embedded else ""
        return (f"search index built: {self.entries} entries, {self.chunks} chunks "
                f"({self.cached} from the embedding cache, {self.embedded} embedded{rate}) "
                f"in {self.seconds:.1f} s")


class BuildProgress(Protocol):
    def planned(self, plan: BuildPlan) -> None: ...

    def embedded(self, chunks: int, entries_ready: int, chunks_per_s: float) -> None: ...

    def applying(self) -> None: ...


def _projector(store: Store) -> Projector:
    return next(p for p in store.projections.projectors if p.name == PROJECTOR)


def _status(store: Store) -> dict[str, object]:
    return next(r for r in store.projections.status() if r["name"] == PROJECTOR)


def pending_events(store: Store, limit: int | None = None) -> int:
    """How many content events the search index has not applied yet (up to `limit`)."""
    projector = _projector(store)
    row = _status(store)
    position = int(str(row["position"]))
    types = sorted(projector.event_types) if projector.event_types is not None else None
    cats = sorted(projector.categories) if projector.categories is not None else None
    return sum(1 for _ in store.read_all(position + 1, limit, types=types, categories=cats))


def needs_build(store: Store) -> bool:
    """Whether content events wait for the index (none: built, or nothing imported).

    A parked index is not built here: it waits for `questlog projections skip/unpark`.
    """
    return _status(store)["state"] != "parked" and pending_events(store, 1) > 0


def plan(store: Store, embedder: Embedder | None = None) -> BuildPlan:
    """The entries the pending events touch, their chunks, and the texts not cached yet."""
    embedder = embedder or default_embedder()
    projector = _projector(store)
    position = int(str(_status(store)["position"]))
    types = sorted(projector.event_types) if projector.event_types is not None else None
    cats = sorted(projector.categories) if projector.categories is not None else None
    events = [e for e in store.read_all(position + 1, types=types, categories=cats)
              if projector.handles(e)]
    with store.read() as conn:
        keys = search_index.affected_keys(conn, events)
        effective = search_index.effective_chunks(conn, keys)
        texts = {c.text_hash: c.text for e in effective.values() for c in e.chunks}
        texts.update(search_index.missing_texts(conn))
        found = embedding_cache().lookup(conn, embedder.model_id, texts)
    to_embed = {h: t for h, t in texts.items() if h not in found}
    entries_of: dict[str, list[Key]] = {}
    waiting: dict[Key, int] = {}
    for key, eff in effective.items():
        for chunk in eff.chunks:
            if chunk.text_hash in to_embed:
                entries_of.setdefault(chunk.text_hash, []).append(key)
                waiting[key] = waiting.get(key, 0) + 1
    return BuildPlan(entries=len(effective), chunks=len(texts), cached=len(found),
                     to_embed=to_embed, entries_of=entries_of, waiting=waiting)


def build_missing(store: Store, progress: BuildProgress | None = None,
                  embedder: Embedder | None = None, batch: int | None = None) -> BuildReport:
    """Embed what is missing in committed batches, then catch the index up (see module doc)."""
    started = time.perf_counter()
    embedder = embedder or default_embedder()
    batch = batch or store.settings.search_build_batch
    with store.read() as conn:  # before embedding anything with the wrong model
        search_index.refuse_other_model(search_index.read_state(conn), embedder.model_id)
    work = plan(store, embedder)
    if progress is not None:
        progress.planned(work)
    done = 0
    embed_started = time.perf_counter()

    def on_batch(hashes: Sequence[str]) -> None:
        nonlocal done
        done += len(hashes)
        for h in hashes:
            for key in work.entries_of.get(h, ()):
                work.waiting[key] -= 1
        if progress is not None:
            elapsed = time.perf_counter() - embed_started
            progress.embedded(done, work.entries_ready, done / elapsed if elapsed > 0 else 0.0)

    if work.to_embed:
        cache.embed_missing(store, embedder, work.to_embed, batch=batch, on_batch=on_batch)
    embed_seconds = time.perf_counter() - embed_started
    if progress is not None:
        progress.applying()
    store.projections.catch_up([PROJECTOR])
    return BuildReport(entries=work.entries, chunks=work.chunks, cached=work.cached,
                       embedded=done, embed_seconds=embed_seconds,
                       seconds=time.perf_counter() - started)
