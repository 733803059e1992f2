"""What every CLI command shares: the --db/--json options, opening the store, errors.

Commands stay thin: they parse options, call the library, print. Every
QuestlogError becomes one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import QuestlogError

if TYPE_CHECKING:
    from ..store import Store

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliContext:
    """Carried in click's ctx.obj: where the store is and how to print."""

    db: Path | None = None
    json: bool = False
    _stores: list[Store] = field(default_factory=list)

    def open_store(self, *, read_only: bool = False, create: bool = False) -> Store:
        """Open the store named by --db / QUESTLOG_DB; closed when the command ends."""
        from ..store import Store

        store = Store.open(self.db, read_only=read_only, create=create)
        self._stores.append(store)
        return store

    def close(self) -> None:
        while self._stores:
            self._stores.pop().close()

    def emit(self, data: Any, text: str | None = None) -> None:
        """Print `data` as JSON under --json, else `text` (or a plain rendering of data)."""
        if self.json:
            click.echo(json.dumps(data, indent=None, ensure_ascii=False, default=str))
        elif text is not None:
            click.echo(text)
        else:
            click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


pass_cli = click.make_pass_decorator(CliContext, ensure=True)


def db_option(f: F) -> F:
    """--db on a subcommand (also accepted on the top-level group)."""

    def callback(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
        if value is not None:
            ctx.ensure_object(CliContext).db = value

    return click.option(
        "--db", type=click.Path(path_type=Path), expose_value=False, callback=callback,
        is_eager=True, help="Store file (default: $QUESTLOG_DB or ./questlog.db).",
    )(f)


def json_option(f: F) -> F:
    """--json on a subcommand (also accepted on the top-level group)."""

    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.ensure_object(CliContext).json = True

    return click.option(
        "--json", "json_", is_flag=True, expose_value=False, callback=callback,
        help="Machine-readable JSON output.",
    )(f)


def store_command(f: F) -> F:
    """Add --db and --json to a command and make sure its stores are closed."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        obj = ctx.ensure_object(CliContext)
        try:
            return f(*args, **kwargs)
        finally:
            obj.close()

    return db_option(json_option(wrapper))  # type: ignore[return-value]


def fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def run_cli(main: click.Group) -> None:
    """Run the click group, turning QuestlogErrors into one clear line and an exit code."""
    try:
        main.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except QuestlogError as exc:
        click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(exc.exit_code or 1)
    except BrokenPipeError:
        sys.exit(0)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
