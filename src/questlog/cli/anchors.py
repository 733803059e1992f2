"""`questlog anchor` and the `--anchors` part of `questlog verify` (see questlog.anchors)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import CliContext, pass_cli, store_command

if TYPE_CHECKING:
    from ..anchors import AnchorReport


@click.command("anchor")
@click.option("--path", "path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Anchor file (default: $QUESTLOG_ANCHOR_PATH or <db>.anchors.jsonl).")
@store_command
@pass_cli
def anchor_cmd(cli: CliContext, path: Path | None) -> None:
    """Sign the log's committed head into the append-only anchor file.

    Needs QUESTLOG_ANCHOR_KEY. Keep the anchor file where whoever can rewrite the
    store cannot (beside the replica, another host); `questlog verify --anchors`
    then sees a truncated tail or a re-forged chain.
    """
    from ..anchors import anchor_path

    store = cli.open_store(create=False)
    target = anchor_path(store.settings, store.location, path)
    anchor = store.anchor(target)
    cli.emit({**anchor.as_dict(), "path": str(target)},
             f"anchored position {anchor.position} (hash {anchor.hash[:16]}…) in {target}")


def print_anchor_report(report: AnchorReport) -> None:
    """Text output of `verify --anchors`: one line either way (faults on stderr)."""
    if report.ok:
        last = f" (last at position {report.last_position})" if report.anchors else ""
        click.echo(f"ok: {report.reached} anchor(s) reached{last} in {report.path}")
    else:
        more = len(report.faults) - 1
        extra = f" ({more} more anchor fault(s); --json lists them)" if more else ""
        click.echo(f"FAILED: {report.faults[0].message}{extra}", err=True)
    if report.skipped_lines:
        lines = ", ".join(map(str, report.skipped_lines[:5]))
        click.echo(f"note: skipped {len(report.skipped_lines)} line(s) of {report.path} that "
                   f"are not JSON (torn by a crash while anchoring?): line {lines}", err=True)
