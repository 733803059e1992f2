"""`questlog copy SOURCE TARGET`: move a store between files and servers, proven by digests.

Thin over `questlog.copying` (the library says what is checked and in what order).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import (
    EXIT_INTERRUPTED,
    EXIT_INTERRUPTED_AFTER_COMMIT,
    STORE_LOCATION,
    CliContext,
    Interrupted,
    json_option,
    pass_cli,
    progress_reporter,
    sigint_ignored,
)

if TYPE_CHECKING:
    from ..copying import CopyReport

BATCH = 2000  # questlog.copying.BATCH (not imported: `--help` loads no library)

EPILOG = """\b
SOURCE and TARGET are store files or URLs (sqlite:///PATH, postgresql://...).
SOURCE is only read. TARGET must be empty (a new file or database, or a store
with no events); a TARGET holding other events is refused before anything is
written.

\b
Interrupting it (Ctrl-C, a crash) is safe: TARGET keeps every committed batch,
always a prefix of SOURCE's log, and read models are built only once the log
is complete. Running the same command again RESUMES: it checks that TARGET's
last event has SOURCE's hash at that position, copies the rest, then builds and
compares the read models.

\b
Exit codes: 0 copied, TARGET passes verify and every compared digest is
identical; 1 refused (nothing written) or digests differ (the table says
which); 2 SOURCE's hash chain is broken (the first bad position is named;
TARGET keeps the valid prefix before that batch) or TARGET fails verify;
5 interrupted after batches were committed (rerun to resume); 130
interrupted before anything was committed."""


@click.command("copy", epilog=EPILOG)
@click.argument("source", type=STORE_LOCATION)
@click.argument("target", type=STORE_LOCATION)
@click.option("--batch", type=click.IntRange(min=1), default=BATCH, show_default=True,
              help="Events read and committed per batch (memory is bounded by two).")
@json_option
@pass_cli
def copy_cmd(cli: CliContext, source: Path | str, target: Path | str, batch: int) -> None:
    """Copy a store to TARGET keeping event ids, positions, times and hashes.

    Streams SOURCE's log in position order, checking its hash chain, into
    TARGET; builds TARGET's read models; runs `verify` on TARGET and prints
    each read model's `projections hash` digest on SOURCE and on TARGET.
    """
    from ..copying import copy_store

    report_progress, close_progress = progress_reporter({"log": "copying the log"})
    before = _target_head(target)
    try:
        report = copy_store(source, target, batch=batch, progress=report_progress)
    except KeyboardInterrupt:
        close_progress()
        raise _interrupted(target, before) from None
    finally:
        close_progress()
    _print(cli, report)
    if report.verify is not None and not report.verify.ok:
        click.echo(f"error: TARGET fails verify at position "
                   f"{report.verify.first_bad_position}: "
                   f"{'; '.join(report.verify.problems[:3])}", err=True)
        sys.exit(2)
    if report.differing:
        names = ", ".join(d.name for d in report.differing)
        click.echo(f"error: digests differ between SOURCE and TARGET: {names}", err=True)
        sys.exit(1)


def _target_head(target: Path | str) -> int:
    """TARGET's head now (0 when it has no store yet), to account for an interruption."""
    from ..errors import QuestlogError
    from ..store import Store

    try:
        with Store.open(target, read_only=True, create=False, projectors=[]) as store:
            return store.head_position()
    except QuestlogError:
        return 0


def _interrupted(target: Path | str, before: int) -> Interrupted:
    with sigint_ignored():  # the stores closed on the way out; reading the head is quick
        after = _target_head(target)
    if after > before:
        return Interrupted(
            f"interrupted: TARGET holds positions 1-{after} of SOURCE's log ({after - before} "
            "copied by this run); its read models are not built yet. Run the same command "
            "again to resume.", EXIT_INTERRUPTED_AFTER_COMMIT,
            {"events": after - before, "first_position": before + 1, "last_position": after})
    return Interrupted("interrupted: nothing was committed to TARGET's log"
                       + (f" (it holds positions 1-{after}; rerun to resume)" if after else ""),
                       EXIT_INTERRUPTED, {"events": 0})


def _print(cli: CliContext, report: CopyReport) -> None:
    if cli.json:
        cli.emit(report.as_dict())
        return
    if report.resumed_from:
        click.echo(f"resumed: TARGET held positions 1-{report.resumed_from}; copied "
                   f"{report.copied} more (to position {report.head})")
    else:
        click.echo(f"copied {report.copied} events (positions 1-{report.head})")
    if report.verify is not None and report.verify.ok:
        click.echo(f"verify TARGET: ok ({report.verify.events} events in "
                   f"{report.verify.streams} streams)")
    width = max((len(d.name) for d in report.digests), default=10)
    click.echo(f"{'read model':<{width}}  {'SOURCE digest':<64}  {'TARGET digest':<64}")
    for d in report.digests:
        verdict = ("same" if d.same else "DIFFERS") if d.compared else d.note
        click.echo(f"{d.name:<{width}}  {d.source}  {d.target}  {verdict}")
    compared = [d for d in report.digests if d.compared]
    if compared and not report.differing:
        click.echo(f"{len(compared)} of {len(report.digests)} digests compared: all "
                   "identical")
