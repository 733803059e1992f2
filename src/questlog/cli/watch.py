"""`--watch` for read commands: redraw the command's output every `--interval` seconds.

On a terminal each frame clears the screen and homes the cursor (ANSI `ESC[H ESC[2J`), so
the view redraws in place; without a terminal (a pipe, a file, a CI log) each frame is
printed after the last, separated by a blank line (one JSON line a frame under --json).
Ctrl-C ends the watch: exit 0, no traceback.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
CLEAR_HOME = "\x1b[H\x1b[2J"
DEFAULT_INTERVAL_S = 2.0


def watch_options(f: F) -> F:
    """Add --watch and --interval to a command (passed as `watch` and `interval`)."""
    f = click.option("--interval", type=click.FloatRange(min=0.1, max=3600), show_default=True,
                     default=DEFAULT_INTERVAL_S,
                     help="Seconds between redraws under --watch.")(f)
    return click.option("--watch", is_flag=True,
                        help="Redraw every --interval seconds until Ctrl-C (in place on a "
                        "terminal, one frame after another otherwise).")(f)


def run_watch(frame: Callable[[], None], *, title: str, interval: float) -> None:
    """Call `frame` (which prints one frame) every `interval` seconds until Ctrl-C."""
    tty = sys.stdout.isatty()
    first = True
    try:
        while True:
            if tty:
                # Drawn off screen first: one write a frame (no flicker), and a failing
                # frame leaves the screen as it was above its error line.
                drawn = _captured(frame)
                click.echo(f"{CLEAR_HOME}every {interval:g}s: {title}    "
                           f"{datetime.now().strftime('%H:%M:%S')}\n\n{drawn}", nl=False)
            else:
                if not first:
                    click.echo("")
                frame()
            sys.stdout.flush()
            first = False
            time.sleep(interval)
    except KeyboardInterrupt:
        return  # the way a watch ends: exit 0


def _captured(frame: Callable[[], None]) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        frame()
    return buffer.getvalue()
