"""`questlog stats [--json]`: the store's metric families without a server.

Prints what `/metrics` reads from the store at scrape time (head, projector positions,
lag, parked state, rebuild progress) in the Prometheus text format (e.g. for a
node_exporter textfile collector), or under --json as {family: {type, help, samples}}.
The counters and histograms of a running process (appends, batches, searches, HTTP)
live in that process: only its `/metrics` has them.
"""

from __future__ import annotations

import click

from .common import CliContext, pass_cli, store_command


@click.command("stats")
@store_command
@pass_cli
def stats_cmd(obj: CliContext) -> None:
    """Print the store's metrics (Prometheus text format; --json for JSON)."""
    from ..observability.store_metrics import as_dict, exposition

    store = obj.open_store(read_only=True)
    if obj.json:
        obj.emit(as_dict(store))
    else:
        click.echo(exposition(store, recorded=False).decode("utf-8"), nl=False)
