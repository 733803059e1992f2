"""`questlog content ...`: import packs, read entries, list packs, check references.

Thin wrappers over `store.content` (questlog.content.api.ContentAPI).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import ContentValidationError
from .common import CliContext, pass_cli, progress_reporter, store_command

if TYPE_CHECKING:
    from pydantic import BaseModel


def _dump(entity: BaseModel) -> dict[str, Any]:
    # exclude_unset: the entry as it came in, without the absent optional fields
    return entity.model_dump(mode="json", by_alias=True, exclude_unset=True)


def parse_where(items: tuple[str, ...], columns: dict[str, str]) -> dict[str, Any]:
    """`--where` items into the API's where mapping (the library's grammar); a malformed
    item is a usage error of the option."""
    from ..content import where_text  # its types load pydantic: not for `--help`
    from ..content.query import InvalidContentFilter

    try:
        return where_text.parse_where(items, columns)
    except InvalidContentFilter as exc:
        raise click.BadParameter(str(exc), param_hint="--where") from None


@click.group("content")
def content_group() -> None:
    """Content packs (5e-database JSON): import, read, list, check."""


@content_group.command("import")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--pack", "pack", default=None,
              help="Pack name (default: the manifest's name, else the directory's).")
@click.option("--priority", type=int, default=None,
              help="Higher priority packs override lower ones (default: manifest, else 0).")
@click.option("--edition", default=None, help="Edition of the data (default: manifest, else 2014).")
@click.option("--skip-invalid", is_flag=True, help="Import the valid entries, report the rest.")
@click.option("--dry-run", is_flag=True, help="Validate and compare; append nothing.")
@store_command
@pass_cli
def import_cmd(cli: CliContext, directory: Path, pack: str | None, priority: int | None,
               edition: str | None, skip_invalid: bool, dry_run: bool) -> None:
    """Import a pack directory: validate every entry, append what changed."""
    store = cli.open_store(create=True)
    report_progress, close_progress = progress_reporter(
        {"validate": "validating", "append": "appending"})
    try:
        report = store.content.import_pack(
            directory, pack=pack, priority=priority, edition=edition,
            skip_invalid=skip_invalid, dry_run=dry_run, progress=report_progress)
    except ContentValidationError as exc:
        close_progress()
        if cli.json:
            cli.emit({"ok": False, "problems": [p.as_dict() for p in exc.problems]})
        else:
            for problem in exc.problems:
                click.echo(f"  {problem}", err=True)
        raise
    finally:
        close_progress()
    if not cli.json:
        for item in report.problems:
            click.echo(f"  skipped: {item['file']} [{item['entry']}] {item['field']}: "
                       f"{item['message']}", err=True)
        for item in report.warnings:
            click.echo(f"  warning: {item['file']} [{item['entry']}] {item['message']}", err=True)
    cli.emit(report.as_dict(), report.summary)


@content_group.command("get")
@click.argument("type_name", metavar="TYPE")
@click.argument("index")
@click.option("--resolve", is_flag=True, help="Also fetch the entries it references.")
@store_command
@pass_cli
def get_cmd(cli: CliContext, type_name: str, index: str, resolve: bool) -> None:
    """Print the effective entry TYPE/INDEX (e.g. `spells fireball`)."""
    store = cli.open_store(read_only=True)
    entity = store.content.get(type_name, index, resolve=resolve)
    data: dict[str, Any] = _dump(entity)
    if resolve:
        data = {"entity": data,
                "resolved": {url: _dump(model) for url, model in
                             entity.resolved.items()}}  # type: ignore[attr-defined]
    cli.emit(data)


@content_group.command("list")
@click.argument("type_name", metavar="TYPE")
@click.option("--where", "where_items", multiple=True, metavar="FIELD=VALUE",
              help="Filter: FIELD=VALUE, FIELD>=VALUE, FIELD<VALUE, FIELD!=VALUE, "
                   "FIELD=A,B (any of). Repeatable (AND).")
@click.option("--order-by", default=None, help="Field to sort by ('-' prefix: descending).")
@click.option("--limit", type=click.IntRange(min=0), default=None)
@click.option("--offset", type=click.IntRange(min=0), default=0)
@store_command
@pass_cli
def list_cmd(cli: CliContext, type_name: str, where_items: tuple[str, ...],
             order_by: str | None, limit: int | None, offset: int) -> None:
    """List entries of TYPE matching the filters (fields: `content fields TYPE`)."""
    store = cli.open_store(read_only=True)
    where = parse_where(where_items, store.content.filter_columns(type_name))
    entities = store.content.list(type_name, where=where, order_by=order_by, limit=limit,
                                  offset=offset)
    rows = [_dump(e) for e in entities]
    text = "\n".join(f"{r.get('index', '')}\t{r.get('name', '') or ''}" for r in rows)
    cli.emit(rows, text + f"\n({len(rows)} entr{'y' if len(rows) == 1 else 'ies'})")


@content_group.command("fields")
@click.argument("type_name", metavar="TYPE")
@store_command
@pass_cli
def fields_cmd(cli: CliContext, type_name: str) -> None:
    """The fields `content list TYPE --where` filters on, with their types."""
    store = cli.open_store(read_only=True)
    columns = store.content.filter_columns(type_name)
    cli.emit(columns, "\n".join(f"{k}\t{v}" for k, v in columns.items()))


@content_group.command("find")
@click.argument("name")
@click.option("--type", "type_name", default=None, help="Only this type.")
@store_command
@pass_cli
def find_cmd(cli: CliContext, name: str, type_name: str | None) -> None:
    """Find entries by name, ignoring case and spacing ("Fire Ball" finds fireball)."""
    store = cli.open_store(read_only=True)
    matches = store.content.find_by_name(name, type=type_name)
    data = [{"type": m.type, "index": m.index, "name": m.name, "pack": m.pack} for m in matches]
    cli.emit(data, "\n".join(f"{m['type']}/{m['index']}\t{m['name'] or ''}\t[{m['pack']}]"
                             for m in data) or "no match")


@content_group.command("types")
@store_command
@pass_cli
def types_cmd(cli: CliContext) -> None:
    """Known content types and how many effective entries each has."""
    store = cli.open_store(read_only=True)
    counts = store.content.type_counts()
    data = {t: counts.get(t, 0) for t in store.content.types()}
    cli.emit(data, "\n".join(f"{t}\t{n}" for t, n in data.items()))


@content_group.command("packs")
@store_command
@pass_cli
def packs_cmd(cli: CliContext) -> None:
    """Loaded packs, highest priority first."""
    store = cli.open_store(read_only=True)
    packs = store.content.packs()
    data = [p.model_dump(mode="json") for p in packs]
    lines = [f"{p.name}\tv{p.version}\tpriority {p.priority}\tedition {p.edition}\t"
             f"{p.entries} entries ({p.effective} effective)" for p in packs]
    cli.emit(data, "\n".join(lines) or "no packs")


@content_group.command("check")
@store_command
@pass_cli
def check_cmd(cli: CliContext) -> None:
    """Report dangling references per pack; exit 1 when there are any."""
    store = cli.open_store(read_only=True)
    report = store.content.check()
    lines = [f"{report.references} reference(s) checked"]
    for pack, items in report.dangling.items():
        lines.append(f"{pack}: {len(items)} dangling")
        lines.extend(f"  {d.type}/{d.index} {d.path} -> {d.url}" for d in items)
    cli.emit(report.model_dump(mode="json") | {"ok": report.ok}, "\n".join(lines))
    if not report.ok:
        sys.exit(1)


@content_group.command("remove-pack")
@click.argument("name")
@store_command
@pass_cli
def remove_pack_cmd(cli: CliContext, name: str) -> None:
    """Remove a pack; entries it overrode become visible again."""
    store = cli.open_store()
    version = store.content.remove_pack(name)
    cli.emit({"pack": name, "removed": True, "stream_version": version},
             f"removed pack {name}")
