"""`questlog quickstart`: the README's main job on a fresh machine.

Creates a store, imports the bundled starter pack, brings every projection to
the head, plays a few game-state events, verifies the log, and shows lookups
and a sample search.
"""

from __future__ import annotations

import importlib.resources
import sys
import uuid
from pathlib import Path

import click

from ..events import NewEvent
from .common import CliContext, pass_cli, store_command


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
    say(f"imported bundled pack from {pack}: {summary['import']}")

    # A tiny session: the same ids every run, so re-running quickstart appends nothing new.
    ns = uuid.UUID("6f1c7c5e-3f5e-4a53-9d55-6a8a4c3b9e01")
    events = [
        ("campaign-quickstart", "CampaignCreated", {"campaign_id": "quickstart",
                                                    "name": "The Sunken Lantern"}),
        ("campaign-quickstart", "SessionStarted", {"session_id": "s1", "number": 1}),
        ("campaign-quickstart", "ChatMessagePosted", {"message_id": "m1", "role": "gm",
                                                      "text": "The lantern sinks below."}),
    ]
    appended = 0
    for n, (stream, type_, data) in enumerate(events):
        result = store.append(stream, [NewEvent(event_id=uuid.uuid5(ns, str(n)), type=type_,
                                                data=data)])
        appended += len(result.positions)
    with click.progressbar(length=1, label="projecting", file=sys.stderr) as bar:
        store.projections.catch_up(names=[p.name for p in store.projections.projectors
                                          if p.mode == "async" and "search" not in p.name])
        bar.update(1)
    verify = store.verify()
    summary["verify"] = verify.as_dict()
    say(f"verify: {'ok' if verify.ok else 'FAILED'} ({verify.events} events, "
        f"{verify.streams} streams)")

    lookups = {}
    for type_, index in (("spells", "lantern-ward"), ("monsters", "lantern-wisp"), ("magic-items", "brinesteel-hook")):
        try:
            entry = store.content.get(type_, index)
            lookups[f"{type_}/{index}"] = entry.model_dump(mode="json")
            say(f"{type_}/{index}: {getattr(entry, 'name', index)}")
        except Exception as exc:
            say(f"{type_}/{index}: {exc}")
    summary["lookups"] = lookups

    if search:
        with click.progressbar(length=1, label="building search index", file=sys.stderr) as bar:
            store.projections.catch_up()
            bar.update(1)
        hits = store.search("a glowing creature that lures travellers", k=3)
        summary["search"] = [h.model_dump(mode="json") if hasattr(h, "model_dump") else str(h)
                             for h in hits]
        say("search 'a glowing creature that lures travellers':")
        for hit in hits:
            say(f"  {hit}")
    if cli.json:
        cli.emit(summary)
