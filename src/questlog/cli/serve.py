"""`questlog serve`, `read-node`, `replicate` and `restore`: thin wrappers over
questlog.http and questlog.replication."""

from __future__ import annotations

import ipaddress
import signal
import threading
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigurationError
from .common import CliContext, db_option_with, pass_cli, store_command


def _setup_logging(level: str, log_format: str | None, *, access_log: bool = False) -> None:
    """The one logging set-up (observability.logs), at this command's level; the format
    is this command's --log-format, else the group's."""
    from ..observability.logs import setup_logging

    if log_format is None:
        obj = click.get_current_context().find_object(CliContext)
        log_format = obj.log_format if obj is not None else "auto"
    setup_logging(level, log_format, access_log=access_log)


def log_format_option(f: Any) -> Any:
    from ..observability.logs import LOG_FORMATS

    return click.option("--log-format", type=click.Choice(LOG_FORMATS), default=None,
                        help="Logs on stderr: text, JSON lines, or auto (text on a terminal, "
                        "else JSON); default: the group's --log-format.")(f)


def _open_primary(obj: CliContext, *, replicating: bool) -> Any:
    """The write store; with a replica it is opened with litestream_active (no app checkpoints)."""
    from ..settings import load_settings
    from ..store import Store

    settings = load_settings(db=obj.db, litestream_active=True if replicating else None)
    store = Store.open(settings.db, settings=settings)
    obj._stores.append(store)  # closed by @store_command when the command ends
    return store


def _is_loopback(host: str) -> bool:
    """Whether `host` (an address or a name) only listens on this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve to anything


def _wait_for_signal() -> None:
    stop = threading.Event()

    def handler(_signum: int, _frame: object) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    while not stop.wait(1.0):
        pass


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--replica", default=None, metavar="URL",
              help="Also replicate to this Litestream URL (file:///dir, s3://bucket/path, ...).")
@click.option("--insecure-no-auth", is_flag=True,
              help="Accept writes without QUESTLOG_API_TOKEN (local development only).")
@click.option("--insecure-no-auth-on-network", is_flag=True,
              help="Allow --insecure-no-auth with a --host that is not loopback: anyone who "
              "can reach the port may write.")
@click.option("--min-position-timeout", default=5.0, show_default=True, type=float,
              help="How long ?min_position=N waits before answering 503.")
@click.option("--projector-daemon/--no-projector-daemon", default=True, show_default=True,
              help="Run async projectors (embeddings) in this process.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@log_format_option
@click.option("--access-log", is_flag=True,
              help="Log one line per request (method, route, path, status, time, request id).")
@store_command
@pass_cli
def serve_cmd(obj: CliContext, host: str, port: int, replica: str | None,
              insecure_no_auth: bool, insecure_no_auth_on_network: bool,
              min_position_timeout: float, projector_daemon: bool, log_level: str,
              log_format: str | None, access_log: bool) -> None:
    """Run the HTTP write node (appends and reads) for this store."""
    from ..http import create_app, run_server
    from ..observability.startup import log_startup
    from ..replication import Replicator

    if insecure_no_auth and not insecure_no_auth_on_network and not _is_loopback(host):
        raise ConfigurationError(
            f"--insecure-no-auth with --host {host} would let anyone on the network write; "
            "use --host 127.0.0.1, set QUESTLOG_API_TOKEN, or add --insecure-no-auth-on-network")
    _setup_logging(log_level, log_format, access_log=access_log)
    store = _open_primary(obj, replicating=replica is not None)
    log_startup(store, "write")
    if store.settings.api_token is None and not insecure_no_auth:
        click.echo("warning: QUESTLOG_API_TOKEN is not set: every write will answer 401 "
                   "(use --insecure-no-auth for local development)", err=True)
    replicator = None
    if replica is not None:
        replicator = Replicator.for_store(store, replica).start()
    try:
        if projector_daemon:
            store.projections.start()
        app = create_app(store, "write", replicator=replicator,
                         allow_unauthenticated_writes=insecure_no_auth,
                         min_position_timeout_s=min_position_timeout)
        run_server(app, host=host, port=port, log_level=log_level)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a server is stopped: a clean stop, every accepted write kept
    finally:
        if replicator is not None:
            replicator.stop()


@click.command("read-node")
@click.option("--replica", default=None, metavar="URL",
              help="A Litestream replica URL to follow (with --data-dir).")
@click.option("--data-dir", default=None, type=click.Path(path_type=Path),
              help="Where the Litestream follower keeps its copy (deleted and restored on "
              "every start).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=click.IntRange(1, 65535))
@click.option("--primary", default=None, metavar="URL",
              help="Where to read the primary's head for the lag report: the write node's "
              "base URL (http://…; the only kind with --replica), or, for a standby, the "
              "primary's postgresql://… URL.")
@click.option("--min-position-timeout", default=5.0, show_default=True, type=float,
              help="How long ?min_position=N waits before answering 503.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@log_format_option
@click.option("--access-log", is_flag=True,
              help="Log one line per request (method, route, path, status, time, request id).")
@db_option_with("A PostgreSQL hot standby to serve, postgresql://… (default: $QUESTLOG_DB); "
                "a store file has no standby: follow its Litestream replica with --replica.")
@pass_cli
def read_node_cmd(obj: CliContext, replica: str | None, data_dir: Path | None, host: str,
                  port: int, primary: str | None, min_position_timeout: float, log_level: str,
                  log_format: str | None, access_log: bool) -> None:
    """Serve every read route from a replica; every write answers 403.

    The replica is a Litestream replica of a SQLite store (--replica URL --data-dir DIR),
    or a PostgreSQL hot standby kept by streaming replication (--db postgresql://…
    or QUESTLOG_DB), opened read-only. /health reports the lag; read routes wait
    for ?min_position=N (read your writes).
    """
    from ..http import create_app, run_server
    from ..observability.startup import log_startup
    from ..replication.read_source import read_source
    from ..settings import load_settings

    _setup_logging(log_level, log_format, access_log=access_log)
    settings = load_settings(db=obj.db)
    node = read_source(replica=replica, data_dir=data_dir, db=obj.db, primary=primary,
                       settings=settings).start()
    try:
        log_startup(node.store, "read")
        app = create_app(node.store, "read", settings=settings, read_node=node,
                         min_position_timeout_s=min_position_timeout)
        run_server(app, host=host, port=port, log_level=log_level)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a server is stopped
    finally:
        node.stop()


@click.command("replicate")
@click.option("--replica", required=True, metavar="URL", help="Litestream replica URL.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@log_format_option
@store_command
@pass_cli
def replicate_cmd(obj: CliContext, replica: str, log_level: str, log_format: str | None) -> None:
    """Run Litestream for this store until interrupted (supervised, restarted on crash).

    While it runs, questlog writers on the same file leave checkpoints to Litestream
    by themselves (it holds DB-replicate.lock); it warns about other writing processes.
    """
    from ..replication import Replicator

    _setup_logging(log_level, log_format)
    store = obj.open_store(read_only=True)
    replicator = Replicator.for_store(store, replica).start()
    click.echo(f"replicating {store.path} to {replicator.replica_url} "
               f"(litestream pid {replicator.process.pid}); Ctrl-C to stop", err=True)
    try:
        _wait_for_signal()
    finally:
        replicator.stop()
    obj.emit(replicator.status().as_dict(), "stopped")


@click.command("restore")
@click.option("--replica", required=True, metavar="URL", help="Litestream replica URL.")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Path of the restored store.")
@click.option("--timestamp", default=None, help="Point in time (RFC 3339, UTC).")
@click.option("--txid", default=None, help="Litestream transaction id (hex).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@store_command
@pass_cli
def restore_cmd(obj: CliContext, replica: str, output: Path, timestamp: str | None,
                txid: str | None, force: bool) -> None:
    """Restore a store from a replica (latest, --timestamp or --txid), then verify it."""
    from ..replication.restore import restore_store

    if timestamp is not None and txid is not None:
        raise ConfigurationError("give --timestamp or --txid, not both")
    result = restore_store(replica, output, timestamp=timestamp, txid=txid, force=force)
    data = result.as_dict()
    obj.emit(data, f"restored {data['path']} (txid {data['txid']}): {data['events']} events, "
                   f"head position {data['head_position']}, verify ok")
