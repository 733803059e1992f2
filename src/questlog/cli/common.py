"""What every CLI command shares: the --db/--json options, opening the store, errors.

Commands stay thin: they parse options, call the library, print. Every error
becomes one line on stderr and a documented exit code (`EXIT_CODES`), never a
traceback; QUESTLOG_DEBUG=1 shows the traceback of an unexpected one.

Ctrl-C tells the truth: a write already handed to the writer cannot be taken
back, so an interrupted command lets it finish, then says what the log gained
since the command started (or that it gained nothing) and exits accordingly.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import signal
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import LogCheckFailed, ProjectorsParked, QuestlogError, one_line
from ..storage.select import redacted

if TYPE_CHECKING:
    from ..store import Store

F = TypeVar("F", bound=Callable[..., Any])

EXIT_ERROR = 1
EXIT_STORE_FAULT = 2  # also click's code for a usage error
EXIT_INTERRUPTED_AFTER_COMMIT = 5
EXIT_INTERNAL = 70  # sysexits' EX_SOFTWARE: a bug, not the user's input
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a killed command
DEBUG_ENV = "QUESTLOG_DEBUG"

# The one list of the exit codes every command shares (the --help epilog prints it, the
# README repeats it); a command may add its own in its --help.
EXIT_CODES: list[tuple[int, str]] = [
    (0, "done"),
    (EXIT_ERROR, "the command failed or was refused (one line on stderr); nothing partial "
                 "was written"),
    (EXIT_STORE_FAULT, "a usage error, or the store is not a questlog store, is corrupt, or "
                       "failed `verify`"),
    (ProjectorsParked.exit_code, "the work is done, but projectors are parked on events they "
                                 "cannot apply (`projections status` names them)"),
    (LogCheckFailed.exit_code, "`replay --check` found problems in the log"),
    (EXIT_INTERRUPTED_AFTER_COMMIT, "interrupted (Ctrl-C) after part or all of the work was "
                                    "committed; stderr says exactly what"),
    (EXIT_INTERNAL, f"an unexpected internal error ({DEBUG_ENV}=1 prints the traceback)"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C) before anything was committed"),
]


class Interrupted(Exception):
    """Ctrl-C, after the writes already accepted were finished: what to say, how to exit."""

    def __init__(self, message: str, exit_code: int, committed: dict[str, Any]) -> None:
        self.exit_code = exit_code
        self.committed = committed
        super().__init__(message)


# (path, head position when opened) of every store this process opened for writing
_OPENED_FOR_WRITING: list[tuple[Path | str, int]] = []


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """While finishing accepted writes and reporting them: a second Ctrl-C must not cut
    the account short (the wait is one writer batch at most)."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def account_for_interrupt(close: Callable[[], None]) -> Interrupted:
    """Close (draining every write already handed to a writer), then say what the log
    of each store opened for writing gained since it was opened."""
    with sigint_ignored():
        close()
        gained = [(path, _committed_since(path, head)) for path, head in _OPENED_FOR_WRITING]
    written = [(path, c) for path, c in gained if c["events"]]
    if not written:
        return Interrupted("interrupted: nothing was committed", EXIT_INTERRUPTED,
                           {"events": 0})
    path, c = written[0]
    streams = ", ".join(f"{sid}: {n}" for sid, n in c["streams"].items())
    more = "" if len(c["streams"]) < 5 else ", ..."
    return Interrupted(
        f"interrupted, but {c['events']} event(s) had been committed to {redacted(str(path))} "
        f"(positions {c['first_position']}-{c['last_position']}; {streams}{more})",
        EXIT_INTERRUPTED_AFTER_COMMIT, c)


def _committed_since(store_path: Path | str, head_before: int) -> dict[str, Any]:
    """What the log gained after `head_before`: count, positions and the busiest streams."""
    from ..store import Store

    with Store.open(store_path, read_only=True) as store, store.read() as session:
        gained = store.backend.log.read_all(session, from_position=head_before + 1,
                                            payload=False)
    per_stream = Counter(e.stream_id for e in gained)
    busiest = sorted(per_stream.items(), key=lambda item: (-item[1], item[0]))[:5]
    return {"events": len(gained),
            "first_position": gained[0].position if gained else None,
            "last_position": gained[-1].position if gained else None,
            "streams": dict(busiest)}


class CliContext:
    """Carried in click's ctx.obj: where the store is and how to print.

    (A plain class: a dataclass compiles its generated methods at import, on every
    command's start.)"""

    def __init__(self, db: Path | str | None = None, json: bool = False,
                 log_format: str = "auto") -> None:
        self.db = db  # a file path or a store URL (storage.select)
        self.json = json
        self.log_format = log_format  # --log-format of the group: auto, text or json
        self._stores: list[Store] = []

    def open_store(self, *, read_only: bool = False, create: bool = False,
                   adopt: bool = False) -> Store:
        """Open the store named by --db / QUESTLOG_DB; closed when the command ends."""
        from ..store import Store

        store = Store.open(self.db, read_only=read_only, create=create, adopt=adopt)
        self._stores.append(store)
        if not store.read_only:
            try:
                _OPENED_FOR_WRITING.append((store.location, store.head_position()))
            except Exception as exc:  # a damaged log: the command itself will say so
                from ..storage.errors import is_corruption

                if not is_corruption(exc):
                    raise
        return store

    def interrupted(self) -> Interrupted:
        """After Ctrl-C: finish the accepted writes, then say what the log gained."""
        return account_for_interrupt(self.close)

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


class StoreLocationType(click.ParamType):  # type: ignore[type-arg]
    """--db: a file path, or a URL kept as text (storage.select.as_location)."""

    name = "path|url"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Path | str:
        from ..storage.select import as_location

        return as_location(value)


STORE_LOCATION = StoreLocationType()
DB_HELP = "Store file or URL, e.g. sqlite:///PATH (default: $QUESTLOG_DB or ./questlog.db)."


def db_option(f: F) -> F:
    """--db on a subcommand (also accepted on the top-level group)."""
    return db_option_with(DB_HELP)(f)


def db_option_with(help_text: str) -> Callable[[F], F]:
    """--db with a command's own help text (where the command takes only some stores)."""

    def callback(ctx: click.Context, _param: click.Parameter, value: Path | str | None) -> None:
        if value is not None:
            ctx.ensure_object(CliContext).db = value

    return click.option(
        "--db", type=STORE_LOCATION, expose_value=False, callback=callback,
        is_eager=True, help=help_text,
    )


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
        except KeyboardInterrupt:
            raise obj.interrupted() from None
        finally:
            with sigint_ignored():  # closing drains accepted writes: let it finish
                obj.close()

    return db_option(json_option(wrapper))  # type: ignore[return-value]


def progress_reporter(labels: dict[str, str] | None = None
                      ) -> tuple[Callable[[str, int, int], None], Callable[[], None]]:
    """A `(stage, done, total)` progress callback drawing one click progress bar per
    stage on stderr (`labels` renames stages), and the closer of the last bar."""
    state: dict[str, Any] = {"bar": None, "stage": None, "done": 0}
    names = labels or {}

    def close() -> None:
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)
            state["bar"] = None

    def report(stage: str, done: int, total: int) -> None:
        if state["stage"] != stage:
            close()
            bar = click.progressbar(length=max(total, 1), label=names.get(stage, stage),
                                    file=sys.stderr)
            state.update(bar=bar.__enter__(), stage=stage, done=0)
        if done < state["done"]:  # a stage may restart its count
            state["bar"].pos = 0
            state["done"] = 0
        state["bar"].update(done - state["done"])
        state["done"] = done

    return report, close


def fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _driver_error(exc: BaseException) -> tuple[str, int] | None:
    """The line and exit code for a database driver error that reached the command line."""
    from ..storage.errors import code_name, is_corruption

    name = code_name(exc)
    if name is None:
        return None
    exc = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    if is_corruption(exc):
        return (f"the store file is damaged ({name}: {exc}); run `questlog verify`",
                EXIT_STORE_FAULT)
    return f"storage error ({name}): {exc}", EXIT_ERROR


def _input_limit(exc: BaseException) -> tuple[str, int] | None:
    """Python's own limit on integer digits, hit while parsing JSON input (replay lines,
    content pack files): the input's fault, not a bug."""
    if isinstance(exc, ValueError) and "integer string conversion" in str(exc):
        return f"the input holds an integer too long to parse ({exc})", EXIT_ERROR
    return None


class _OneLineLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Log records as one line each on stderr: the message and the error, no traceback."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            text += f" ({type(error).__name__}: {error})"
        return f"{record.levelname.lower()}: {one_line(text)}"


def run_cli(main: click.Group) -> None:
    """Run the click group: every error is one line on stderr and an exit code (EXIT_CODES)."""
    if not os.environ.get(DEBUG_ENV):
        # Used only while nobody configured logging (`serve` does): a library warning
        # logged with its exception must not print a traceback on the command line.
        logging.lastResort = _OneLineLogHandler(sys.stderr)
        logging.lastResort.setLevel(logging.WARNING)
    try:
        main.main(standalone_mode=False)
    except Interrupted as exc:
        click.echo(str(exc), err=True)
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        # Ctrl-C outside a store command's body (or at a prompt).
        interrupted = account_for_interrupt(lambda: None)
        click.echo(str(interrupted), err=True)
        sys.exit(interrupted.exit_code)
    except click.UsageError as exc:
        # One line, as every other error: what was wrong, and where the help is.
        command = exc.ctx.command_path if exc.ctx is not None else "questlog"
        click.echo(f"error: {one_line(exc.format_message())} (see `{command} --help`)",
                   err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"error: {one_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except QuestlogError as exc:
        click.echo(f"error: {type(exc).__name__}: {one_line(str(exc))}", err=True)
        sys.exit(exc.exit_code or EXIT_ERROR)
    except BrokenPipeError:
        sys.exit(0)
    except RecursionError:
        if os.environ.get(DEBUG_ENV):
            raise
        click.echo("error: the input is nested too deeply to process", err=True)
        sys.exit(EXIT_ERROR)
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if os.environ.get(DEBUG_ENV):
            raise
        known = _driver_error(exc) or _input_limit(exc)
        if known is not None:
            click.echo(f"error: {one_line(known[0])}", err=True)
            sys.exit(known[1])
        click.echo(f"error: unexpected {type(exc).__name__}: {one_line(str(exc))} "
                   f"(a bug; rerun with {DEBUG_ENV}=1 for the traceback)", err=True)
        sys.exit(EXIT_INTERNAL)
