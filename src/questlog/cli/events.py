"""The log from the command line: append, read, tail, export, and audit replay."""

from __future__ import annotations

import json
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import click

from .. import jsonlimits
from ..errors import InvalidEvent, StreamNotFound, one_line
from ..events import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    ExpectedVersion,
    RecordedEvent,
    validate_expected_version,
)
from .common import CliContext, pass_cli, store_command


def _expected(value: str | None) -> ExpectedVersion:
    if value is None:
        return ANY
    lowered = value.lower().replace("-", "_")
    if lowered in (ANY, NO_STREAM, STREAM_EXISTS):
        return validate_expected_version(lowered)
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: an integer, or any / no_stream / stream_exists") from None


def _json_object(value: str | None, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    try:
        parsed = jsonlimits.loads(value)
    except RecursionError:
        raise click.BadParameter(f"{what} is nested too deeply to parse") from None
    except ValueError as exc:  # malformed, or a number or nesting JSON cannot carry
        raise click.BadParameter(f"{what} is not valid JSON: {one_line(str(exc), 200)}"
                                 ) from None
    if not isinstance(parsed, dict):
        raise click.BadParameter(f"{what} must be a JSON object")
    return parsed


def _print_event(cli: CliContext, event: RecordedEvent) -> None:
    if cli.json:
        click.echo(json.dumps(event.envelope(), ensure_ascii=False))
    else:
        click.echo(f"{event.position:>8}  {event.stream_id}@{event.stream_version}  {event.type}  "
                   f"{json.dumps(event.data, ensure_ascii=False)}")


@click.group("events")
def events_group() -> None:
    """Append to and read the event log."""


@events_group.command("append")
@click.argument("stream")
@click.argument("event_type")
@click.option("--data", default="{}", help="Event data as a JSON object.")
@click.option("--expected-version", default=None,
              help="Integer version, or any / no_stream / stream_exists (default any).")
@click.option("--id", "event_id", type=click.UUID, default=None,
              help="Event id (UUID): appending the same id again is a no-op.")
@click.option("--metadata", default=None, help="Metadata as a JSON object.")
@store_command
@pass_cli
def append_cmd(cli: CliContext, stream: str, event_type: str, data: str,
               expected_version: str | None, event_id: uuid.UUID | None,
               metadata: str | None) -> None:
    """Append one event of EVENT_TYPE to STREAM."""
    from ..events import NewEvent  # pydantic: loaded by the write commands only

    fields: dict[str, Any] = {"type": event_type, "data": _json_object(data, "--data"),
                              "metadata": _json_object(metadata, "--metadata")}
    if event_id is not None:
        fields["event_id"] = event_id
    try:
        event = NewEvent(**fields)
    except ValueError as exc:
        raise InvalidEvent(str(exc).splitlines()[-1] if str(exc) else "invalid event") from None
    store = cli.open_store(create=True)
    result = store.append(stream, [event], _expected(expected_version))
    cli.emit({"positions": result.positions, "stream_version": result.stream_version},
             f"appended at position {result.last_position}; {stream} is at version "
             f"{result.stream_version}")


@events_group.command("read")
@click.argument("stream")
@click.option("--from-version", type=int, default=None, help="First version to read.")
@click.option("--backwards", is_flag=True, help="Newest first.")
@click.option("--limit", type=click.IntRange(min=1), default=None)
@store_command
@pass_cli
def read_cmd(cli: CliContext, stream: str, from_version: int | None, backwards: bool,
             limit: int | None) -> None:
    """Print the events of STREAM (exit 1 when it has none)."""
    store = cli.open_store(read_only=True)
    events = store.read_stream(stream, from_version=from_version, backwards=backwards,
                               limit=limit)
    if not events and store.stream_version(stream) == 0:
        raise StreamNotFound(f"stream {stream!r} has no events")
    for event in events:
        _print_event(cli, event)


@events_group.command("tail")
@click.option("--from", "from_position", type=click.IntRange(min=0), default=0,
              help="First position to print (default: the start of the log).")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events as they commit.")
@click.option("--type", "types", multiple=True, help="Only these event types.")
@click.option("--category", "categories", multiple=True, help="Only these stream categories.")
@store_command
@pass_cli
def tail_cmd(cli: CliContext, from_position: int, follow: bool, types: tuple[str, ...],
             categories: tuple[str, ...]) -> None:
    """Print the global log from a position (with --follow, forever)."""
    store = cli.open_store(read_only=True)
    if follow:
        stop = threading.Event()
        try:
            for event in store.subscribe(from_position, stop=stop, types=types or None,
                                         categories=categories or None):
                _print_event(cli, event)
                sys.stdout.flush()
        except KeyboardInterrupt:
            stop.set()
        return
    for event in store.read_all(from_position, types=types or None,
                                categories=categories or None):
        _print_event(cli, event)


@events_group.command("export")
@click.option("--from", "from_position", type=click.IntRange(min=0), default=0)
@store_command
@pass_cli
def export_cmd(cli: CliContext, from_position: int) -> None:
    """Write the log as JSON lines (envelopes with position, version, hash) to stdout."""
    store = cli.open_store(read_only=True)
    out = sys.stdout
    for event in store.read_all(from_position):
        out.write(json.dumps(event.envelope(), ensure_ascii=False, separators=(",", ":")))
        out.write("\n")


@click.command("replay", epilog=(
    "Exit codes: 0 done; 1 an error (one line on stderr); 3 done, but projectors are "
    "parked on events they cannot apply (named on stderr; see `projections status` and "
    "`projections skip`); 4 --check found problems."))
@click.argument("log_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True,
              help="Only read LOG_FILE and print every problem in it (no store is opened).")
@click.option("--expect", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="JSON file of expected digests; exit non-zero on a difference.")
@click.option("--write-digests", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the digests to this JSON file.")
@store_command
@pass_cli
def replay_cmd(cli: CliContext, log_file: Path, check: bool, expect: Path | None,
               write_digests: Path | None) -> None:
    """Audit replay: append a recorded log, run projections to the head, print digests.

    A projector that cannot apply a recorded event parks; the events are stored and
    every other projector reaches the head.
    """
    if check:
        _check_log(cli, log_file)
        return
    from ..replay import compare_digests, replay_file

    store = cli.open_store(create=True)
    with click.progressbar(length=log_file.stat().st_size, label="replaying",
                           file=sys.stderr) as bar:
        report = replay_file(store, log_file, progress=bar.update)
    with click.progressbar(length=1, label="projecting", file=sys.stderr) as bar:
        store.projections.catch_up(progress=lambda done, total: None)
        bar.update(1)
    digests = store.projections.hashes()
    if write_digests is not None:
        write_digests.write_text(json.dumps(digests, indent=2, sort_keys=True) + "\n")
    parked = store.projections.parked()
    result = {"appended": report.appended, "skipped": report.skipped, "digests": digests,
              "parked": parked}
    if cli.json:
        cli.emit(result)
    else:
        click.echo(f"appended {report.appended} event(s), skipped {report.skipped} already stored")
        for name, value in sorted(digests.items()):
            click.echo(f"{name:>24}  {value}")
    store.projections.raise_if_parked()
    if expect is not None:
        compare_digests(digests, json.loads(expect.read_text()))
        if not cli.json:
            click.echo(f"digests match {expect}")


def _check_log(cli: CliContext, log_file: Path) -> None:
    from ..replay_check import LogCheckFailed, check_file
    from ..settings import load_settings

    report = check_file(log_file, load_settings().max_json_depth)
    if cli.json:
        cli.emit(report.to_dict())
    else:
        for problem in report.problems:
            click.echo(problem.describe())
        click.echo(report.headline())
    if report.problems:
        raise LogCheckFailed(report.headline())
