"""The `questlog` command line: a lazy click group over one module per command group.

Subcommands are imported only when invoked, so `questlog events read` never pays
for FastAPI, numpy or torch.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
from pathlib import Path

import click

from ..observability.logs import LOG_FORMATS, setup_logging
from .common import DB_HELP, EXIT_CODES, STORE_LOCATION, CliContext, run_cli
from .pydantic_plugins import PLUGINS_ENV, skip_plugin_search

# command name -> "module:attribute" (relative to questlog.cli)
COMMANDS: dict[str, str] = {
    "init": "admin:init_cmd",
    "migrate": "admin:migrate_cmd",
    "doctor": "admin:doctor_cmd",
    "verify": "admin:verify_cmd",
    "anchor": "anchors:anchor_cmd",
    "copy": "copy:copy_cmd",
    "events": "events:events_group",
    "replay": "events:replay_cmd",
    "projections": "projections:projections_group",
    "quickstart": "quickstart:quickstart_cmd",
    "content": "content:content_group",
    "search": "search:search_cmd",
    "game": "game:game_group",
    "serve": "serve:serve_cmd",
    "read-node": "serve:read_node_cmd",
    "replicate": "serve:replicate_cmd",
    "restore": "serve:restore_cmd",
    "stats": "stats:stats_cmd",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(f"{__name__}.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{module_name}":
                return None
            raise
        command = getattr(module, attr, None)
        return command if isinstance(command, click.Command) else None


# "\b" keeps click from rewrapping a table into one paragraph.
ENVIRONMENT = [
    ("QUESTLOG_DB", "the store, as --db (every other QUESTLOG_* setting: see the README)"),
    ("QUESTLOG_DEBUG=1", "print the traceback of an unexpected error"),
    (PLUGINS_ENV, "pydantic plugins to skip, as pydantic reads it; unset, this command"),
    ("", "loads none (set it empty to load every installed plugin)"),
]
EPILOG = ("\b\nExit codes:\n"
          + "\n".join(f"{code:>4}  {meaning}" for code, meaning in EXIT_CODES)
          + "\n\n\b\nEnvironment:\n"
          + "\n".join(f"  {name:<26}{meaning}" for name, meaning in ENVIRONMENT))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EPILOG)
@click.option("--db", type=STORE_LOCATION, default=None, help=DB_HELP)
@click.option("--json", "json_", is_flag=True, help="Machine-readable JSON output.")
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default="auto",
              envvar="QUESTLOG_LOG_FORMAT", show_default=True,
              help="Logs on stderr: text, JSON lines, or auto (text on a terminal, else JSON).")
@click.version_option(package_name="questlog")
@click.pass_context
def cli(ctx: click.Context, db: Path | str | None, json_: bool, log_format: str) -> None:
    """questlog: an event-sourced game-state and content store on SQLite (the embedded
    default) or PostgreSQL (--db postgresql://...).

    Every change is an event appended to one log through a single writer queue;
    projectors build the read models; Litestream replicates a SQLite file to read nodes.
    """
    obj = ctx.ensure_object(CliContext)
    obj.log_format = log_format
    # Servers raise the level (serve --log-level) and always log slow operations; a
    # one-shot command logs them only when QUESTLOG_SLOW_MS asks for it.
    setup_logging("warning", log_format, slow_log="QUESTLOG_SLOW_MS" in os.environ)
    if db is not None:
        obj.db = db
    if json_:
        obj.json = True


def main() -> None:
    skip_plugin_search()  # before any model is built: see pydantic_plugins
    # First thing at exit (atexit runs the last registered first), once however often
    # main() runs in one process: see no_collection_at_exit.
    atexit.unregister(no_collection_at_exit)
    atexit.register(no_collection_at_exit)
    run_cli(cli)


def no_collection_at_exit() -> None:
    """Keep the interpreter's exit from running the cyclic garbage collector over every
    object the command made.

    After a `content get` that is pydantic and its schemas, some 27,000 objects, scanned
    only to free memory the OS takes back anyway: 15-50 ms of a cold command on this
    machine (benchmarks/cold_read.py). `gc.freeze()` moves them out of the collector's
    reach. Nothing relies on that last collection: commands close their stores, files
    are closed by `with`, logging flushes in its own exit hook, and Python never
    promised `__del__` for objects still alive at exit.
    """
    gc.freeze()
