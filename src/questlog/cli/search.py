"""`questlog search "TEXT"`: semantic, keyword or hybrid search over the content index."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .common import CliContext, pass_cli, store_command

if TYPE_CHECKING:
    from ..search.api import Mode

_PREVIEW = 160


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _PREVIEW else flat[:_PREVIEW - 1] + "…"


@click.command("search")
@click.argument("text")
@click.option("--type", "types", multiple=True, metavar="TYPE",
              help="Only this content type (repeatable), e.g. --type spells.")
@click.option("--pack", "packs", multiple=True, metavar="PACK", help="Only this pack (repeatable).")
@click.option("--where", "where_items", multiple=True, metavar="FIELD=VALUE",
              help="Content filter column of the one --type (FIELD=V, FIELD<=V, ...).")
@click.option("--mode", type=click.Choice(["hybrid", "vector", "keyword"]), default="hybrid",
              show_default=True, help="Ranking: fusion of both signals, embeddings, or FTS5.")
@click.option("-k", "k", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Number of hits.")
@click.option("--refresh/--no-build", "build", default=True, show_default=True,
              help="Build what the search index is missing first (embeds new content, "
                   "with progress; the default), or search what is indexed now.")
@click.option("-v", "--verbose", is_flag=True,
              help="Show the ML libraries' warnings, logs and progress bars.")
@store_command
@pass_cli
def search_cmd(cli: CliContext, text: str, types: tuple[str, ...], packs: tuple[str, ...],
               where_items: tuple[str, ...], mode: Mode, k: int, build: bool,
               verbose: bool) -> None:
    """Search content for TEXT (a question in plain words, or FTS5 syntax).

    The first search after an import builds what the index is missing (an
    interrupted build keeps its finished batches; the next search goes on).
    """
    from ..search.building import needs_build
    from ..search.library_noise import set_verbose

    set_verbose(verbose)
    store = cli.open_store(read_only=True, create=False)
    store.content.check_filters(types, packs)   # an unknown type or pack fails before any work
    if needs_build(store):
        if build and _writable(store.path):
            store = cli.open_store(create=False)
            build_index_with_progress(store)
        else:
            lag = next(r["lag"] for r in store.projections.status()
                       if r["name"] == "search_index")
            click.echo(f"note: the search index is {lag} event(s) behind the log "
                       "(search without --no-build on the primary, or run the projection "
                       "daemon)", err=True)
    where: dict[str, Any] | None = None
    if where_items:
        if len(types) != 1:
            raise click.BadParameter("--where needs exactly one --type", param_hint="--where")
        from .content import parse_where

        where = parse_where(where_items, store.content.filter_columns(types[0]))
    hits = store.search.search(text, types=list(types) or None, packs=list(packs) or None,
                               where=where, k=k, mode=mode)
    data = [h.model_dump(mode="json") for h in hits]
    if cli.json:
        cli.emit(data)
        return
    if not hits:
        click.echo("no hits")
        return
    for rank, h in enumerate(hits, 1):
        click.echo(f"{rank:>2}. {h.name}  [{h.type}/{h.index}, pack {h.pack}]  "
                   f"score {h.score:.4f} via {'+'.join(h.signals)}")
        click.echo(f"    {_preview(h.text)}")


def _writable(path: Path) -> bool:
    """A replica file or a read-only directory is searched as it is, never built."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def build_index_with_progress(store: Any) -> None:
    """Build what the search index is missing, drawing the progress bar on stderr."""
    from ..search.building import build_missing

    progress = _BuildBar()
    try:
        report = build_missing(store, progress=progress)
    except KeyboardInterrupt:
        progress.close()
        click.echo(f"search index build interrupted: {progress.done} of {progress.total} "
                   "chunk(s) were embedded and kept; the next search goes on from there",
                   err=True)
        raise
    progress.close()
    click.echo(report.summary(), err=True)


class _BuildBar:
    """The build's progress on stderr: chunks embedded, entries ready, chunks/s, ETA."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.done = 0
        self.total = 0
        self.entries = 0
        self.info = ""

    def planned(self, plan: Any) -> None:
        self.total = len(plan.to_embed)
        self.entries = plan.entries
        click.echo(f"building the search index: {plan.entries} entries, {plan.chunks} chunks "
                   f"({plan.cached} in the embedding cache, {self.total} to embed)", err=True)
        if self.total:
            self.bar = click.progressbar(
                length=self.total, label="embedding", file=sys.stderr, show_eta=True,
                show_pos=True, item_show_func=lambda _: self.info)
            self.bar.__enter__()

    def embedded(self, chunks: int, entries_ready: int, chunks_per_s: float) -> None:
        self.info = f"{entries_ready}/{self.entries} entries, {chunks_per_s:.0f} chunks/s"
        if self.bar is not None:
            self.bar.update(chunks - self.done)
        self.done = chunks

    def applying(self) -> None:
        self.close()
        click.echo("writing the index...", err=True)

    def close(self) -> None:
        if self.bar is not None:
            bar, self.bar = self.bar, None
            bar.__exit__(None, None, None)
