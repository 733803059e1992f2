"""Projections from the command line: status, run, rebuild, hash, unpark, skip."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

from .common import (
    EXIT_INTERRUPTED_AFTER_COMMIT,
    CliContext,
    Interrupted,
    pass_cli,
    store_command,
)
from .watch import run_watch, watch_options

if TYPE_CHECKING:
    from ..projection.checkpoints import Checkpoint
    from ..store import Store


def _bar(label: str) -> tuple[object, object]:
    bar = click.progressbar(length=1, label=label, file=sys.stderr, show_pos=True)
    state = {"total": 0}

    def update(done: int, total: int) -> None:
        if total != state["total"]:
            bar.length = max(total, 1)
            state["total"] = total
        bar.pos = 0
        bar.update(done)

    return bar, update


@click.group("projections")
def projections_group() -> None:
    """Projector checkpoints and lag, rebuilds, digests."""


@projections_group.command("status")
@watch_options
@store_command
@pass_cli
def status_cmd(cli: CliContext, watch: bool, interval: float) -> None:
    """Every projector: mode, version, checkpoint, lag, state and last error."""
    store = cli.open_store(read_only=True)
    if watch:
        run_watch(lambda: _print_status(cli, store), title="questlog projections status",
                  interval=interval)
    else:
        _print_status(cli, store)


def _print_status(cli: CliContext, store: Store) -> None:
    rows = store.projections.status()
    if cli.json:
        cli.emit(rows)
        return
    click.echo(f"{'projector':<22} {'mode':<7} {'ver':>3} {'position':>9} {'lag':>7} "
               f"{'lag s':>7}  state")
    for r in rows:
        line = (f"{r['name']:<22} {r['mode']:<7} {r['version']:>3} {r['position']:>9} "
                f"{r['lag']:>7} {r['lag_seconds']:>7}  {r['state']}")
        if r["last_error"]:
            line += (f"  (error at {r['error_position']}"
                     + (f" {r['error_type']}" if r["error_type"] else "")
                     + f": {r['last_error']})")
        click.echo(line)


_PARKED_EXIT = ("Exit codes: 0 done; 1 an error; 3 done for every other projector, but "
                "these are parked on an event they cannot apply (named on stderr).")


@projections_group.command("rebuild", epilog=_PARKED_EXIT)
@click.argument("names", nargs=-1)
@store_command
@pass_cli
def rebuild_cmd(cli: CliContext, names: tuple[str, ...]) -> None:
    """Rebuild NAMES (default: all) into shadow tables and swap them in atomically."""
    store = cli.open_store(create=False)
    manager = store.projections
    from ..projection.registry import select

    chosen = [p.name for p in select(manager.projectors, list(names) or None)]
    before = _checkpoints(store)
    try:
        for name in chosen:
            bar, update = _bar(f"rebuilding {name}")
            with bar:  # type: ignore[attr-defined]
                manager.rebuild([name], progress=update)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        raise _rebuild_interrupted(cli, chosen, before) from None
    cli.emit({"rebuilt": chosen}, f"rebuilt {', '.join(chosen)}")
    manager.raise_if_parked(chosen)


def _checkpoints(store: Store) -> dict[str, Checkpoint]:
    with store.read() as session:
        return store.checkpoints.read(session)


def _rebuild_interrupted(cli: CliContext, chosen: list[str],
                         before: dict[str, Checkpoint]) -> Interrupted:
    """Ctrl-C during rebuilds: which were swapped in, which stopped where (the live model
    of a stopped one is untouched, and rerunning resumes it)."""
    from ..store import Store

    account = cli.interrupted()  # finishes the writer's accepted batch (maybe a swap)
    with Store.open(cli.db, read_only=True) as store:
        after = _checkpoints(store)
    swapped = [n for n in chosen if n in after and after[n].rebuild_position is None
               and after[n] != before.get(n)]
    stopped = [n for n in chosen if n in after and after[n].rebuild_position is not None]
    untouched = [n for n in chosen if n not in swapped and n not in stopped]
    parts = [f"rebuilt {', '.join(swapped)}" if swapped else "no rebuild was swapped in"]
    if stopped:
        at = ", ".join(f"{n} at position {after[n].rebuild_position}" for n in stopped)
        parts.append(f"stopped {at} (live model untouched; `projections rebuild` resumes)")
    if untouched:
        parts.append(f"not started: {', '.join(untouched)}")
    code = EXIT_INTERRUPTED_AFTER_COMMIT if swapped else account.exit_code
    parts.append(f"{account.committed['events']} new event(s) in the log")
    return Interrupted(f"interrupted: {'; '.join(parts)}", code, account.committed)


@projections_group.command("run", epilog=_PARKED_EXIT)
@click.option("--once", is_flag=True, help="Catch up to the head and exit.")
@click.argument("names", nargs=-1)
@store_command
@pass_cli
def run_cmd(cli: CliContext, once: bool, names: tuple[str, ...]) -> None:
    """Run projectors: catch up (with --once) or keep async projectors caught up until Ctrl-C."""
    store = cli.open_store(create=False)
    bar, update = _bar("catching up")
    with bar:  # type: ignore[attr-defined]
        done = store.projections.catch_up(list(names) or None, progress=update)  # type: ignore[arg-type]
    if once:
        cli.emit(done, "\n".join(f"{k}: {v}" for k, v in sorted(done.items())))
        store.projections.raise_if_parked(list(names) or None)
        return
    store.projections.start()
    click.echo("projection daemon running; Ctrl-C to stop", err=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        store.projections.stop()


@projections_group.command("hash")
@click.option("--catch-up", is_flag=True,
              help="Run every projector to the head first (embedding search chunks can take "
                   "minutes).")
@click.option("--no-catch-up", is_flag=True, hidden=True,
              help="The default now; kept so older scripts still run.")
@store_command
@pass_cli
def hash_cmd(cli: CliContext, catch_up: bool, no_catch_up: bool) -> None:
    """Print a digest per read model over its rows in canonical order.

    Digests the models as they are (never embeds); names on stderr every projector
    that lags the head. --catch-up runs them to the head first.
    """
    store = cli.open_store(read_only=not catch_up)
    if catch_up:
        store.projections.catch_up()
    digests = store.projections.hashes()
    if cli.json:
        cli.emit(digests)
    else:
        for name, value in sorted(digests.items()):
            click.echo(f"{name:<24} {value}")
    for row in store.projections.status():
        if row["lag"] or row["state"] != "live":
            click.echo(f"note: {row['name']} is at position {row['position']} of "
                       f"{row['head']} ({row['state']}); its digest is of that state "
                       "(--catch-up runs it to the head first)", err=True)


@projections_group.command("unpark")
@click.argument("names", nargs=-1, required=True)
@store_command
@pass_cli
def unpark_cmd(cli: CliContext, names: tuple[str, ...]) -> None:
    """Let parked projectors try again from where they stopped (e.g. after a code fix).

    Not recorded in the log: a projector that still cannot apply the event parks
    again at once. To step over the event on purpose, use `projections skip`.
    """
    store = cli.open_store(create=False)
    store.projections.unpark(list(names))
    cli.emit({"unparked": list(names)}, f"unparked {', '.join(names)}")


@projections_group.command("skip", epilog=_PARKED_EXIT)
@click.argument("name")
@click.argument("position", type=click.IntRange(min=1))
@click.option("--reason", default=None, help="Why, kept in the recorded skip event.")
@store_command
@pass_cli
def skip_cmd(cli: CliContext, name: str, position: int, reason: str | None) -> None:
    """Let projector NAME step over the event at POSITION and go on.

    The decision is appended to the log (a ProjectorEventSkipped event on the stream
    projector-NAME), so a replay of this log skips the same event.
    """
    store = cli.open_store(create=False)
    row = store.projections.skip(name, position, reason)
    cli.emit(row, f"{name} skipped position {position}; now at {row['position']} "
                  f"of {row['head']} ({row['state']})")
    store.projections.raise_if_parked([name])
