"""`questlog search "TEXT"`: semantic, keyword or hybrid search over the content index."""

from __future__ import annotations

import sys
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
@click.option("--refresh", is_flag=True,
              help="Bring the search index up to date first (embeds new content).")
@store_command
@pass_cli
def search_cmd(cli: CliContext, text: str, types: tuple[str, ...], packs: tuple[str, ...],
               where_items: tuple[str, ...], mode: Mode, k: int, refresh: bool) -> None:
    """Search content for TEXT (a question in plain words, or FTS5 syntax)."""
    store = cli.open_store(read_only=not refresh, create=False)
    store.content.check_filters(types, packs)   # an unknown type or pack fails before any work
    if refresh:
        _refresh(store)
    else:
        lag = next((r["lag"] for r in store.projections.status() if r["name"] == "search_index"), 0)
        if lag:
            click.echo(f"note: the search index is {lag} event(s) behind the log "
                       "(use --refresh or run the projection daemon)", err=True)
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


def _refresh(store: Any) -> None:
    bar = click.progressbar(length=1, label="indexing", file=sys.stderr, show_pos=True)

    def update(done: int, total: int) -> None:
        bar.length = max(total, 1)
        bar.pos = 0
        bar.update(done)

    with bar:
        store.projections.catch_up(["search_index"], progress=update)
