"""Extract the fenced code blocks of a Markdown file and run them as a reader would.

The convention (documented in docs/internals.md, "Code blocks in the docs"):

- Blocks fenced as ```python (or ```py) run in ONE Python process per file, in order,
  sharing their globals: a later block may use a name an earlier one defined.
- Blocks fenced as ```bash, ```sh or ```shell run with `bash -euo pipefail`; ```console
  blocks run the lines that start with `$ ` (a line ending in `\\` continues the command)
  and ignore the rest (the output shown).
- Every block of a file runs in the same fresh temporary directory, with the installed
  `questlog` first on PATH, no QUESTLOG_* variable set, and `data` linked to the clone's
  `data/` (a reader runs the examples from the clone's root).
- A block that cannot run in a test (a server that runs until stopped, an s3:// URL,
  Docker, the network, the whole test suite) carries the marker
  `<!-- not-run: the reason -->` on the line just before its fence. A marker needs a
  reason and a fenced block right after it.
- Blocks in any other language (json, text, none) are shown, not run.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).resolve().parent / "pyblock_driver.py"

#: fence language -> how the block runs
RUNNERS = {"python": "python", "py": "python", "bash": "shell", "sh": "shell",
           "shell": "shell", "console": "console"}
BLOCK_TIMEOUT_S = 90.0
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*not-run:(?P<reason>.*?)-->\s*$")
_ANY_MARKER = re.compile(r"^\s*<!--\s*not-run\b")   # a marker's start (not one quoted in text)
RESULT_PREFIX = "\x00docblock-result "


class DocFormatError(Exception):
    """A marker without a reason, a marker with no block after it, an unclosed fence."""


@dataclass(frozen=True)
class Block:
    path: Path
    line: int            # 1-based line of the opening fence
    lang: str            # the fence's language, lower case ("" when none)
    code: str
    not_run: str | None  # the marker's reason, or None: the block must run

    @property
    def where(self) -> str:
        try:
            shown = self.path.relative_to(REPO)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.line}"

    @property
    def runner(self) -> str | None:
        return RUNNERS.get(self.lang)


def extract(path: Path) -> list[Block]:
    """Every fenced block of `path`, in order, with its marker (if any)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    pending: tuple[int, str] | None = None   # (line, reason) of a marker awaiting its block
    i = 0
    while i < len(lines):
        text = lines[i]
        marker = _MARKER.match(text)
        if marker is None and _ANY_MARKER.search(text):
            raise DocFormatError(f"{path}:{i + 1}: write the marker alone on its line as "
                                 "<!-- not-run: reason -->")
        if marker is not None:
            reason = marker.group("reason").strip()
            if not reason:
                raise DocFormatError(f"{path}:{i + 1}: a not-run marker needs a reason")
            pending = (i + 1, reason)
            i += 1
            continue
        fence = _FENCE.match(text)
        if fence is None:
            if pending is not None and text.strip():
                raise DocFormatError(f"{path}:{pending[0]}: a not-run marker must stand on "
                                     "the line just before a fenced block")
            i += 1
            continue
        opening = fence.group("fence")
        lang = (fence.group("info").split() or [""])[0].lower()
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            close = _FENCE.match(lines[j])
            if (close is not None and close.group("fence")[0] == opening[0]
                    and len(close.group("fence")) >= len(opening)
                    and not close.group("info").strip()):
                break
            body.append(lines[j])
            j += 1
        else:
            raise DocFormatError(f"{path}:{i + 1}: the fenced block is never closed")
        blocks.append(Block(path, i + 1, lang, "\n".join(body) + "\n",
                            pending[1] if pending else None))
        pending = None
        i = j + 1
    if pending is not None:
        raise DocFormatError(f"{path}:{pending[0]}: a not-run marker with no block after it")
    return blocks


def console_script(code: str) -> str:
    """The commands of a console block (`$ ` lines and their `\\` continuations)."""
    commands: list[str] = []
    continuing = False
    for text in code.splitlines():
        if continuing:
            commands.append(text)
        elif text.startswith("$ "):
            commands.append(text[2:])
        else:
            continue
        continuing = text.rstrip().endswith("\\")
    return "\n".join(commands) + "\n"


@dataclass
class Outcome:
    block: Block
    status: str          # "ok", "not-run", "FAILED", "not reached", "shown"
    output: str = ""


def block_env(workdir: Path) -> dict[str, str]:
    """What a reader's shell has: the installed questlog first on PATH, no QUESTLOG_*."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("QUESTLOG_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = str(Path(sys.executable).parent.parent)
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    env["PWD"] = str(workdir)
    return env


@dataclass
class DocSession:
    """One file's blocks: one temporary directory, one Python process for its Python."""

    workdir: Path
    env: dict[str, str] = field(init=False)
    _python: subprocess.Popen[str] | None = field(default=None, init=False)
    _lines: queue.Queue[str | None] = field(default_factory=queue.Queue, init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        data = self.workdir / "data"
        if not data.exists():
            data.symlink_to(REPO / "data", target_is_directory=True)
        self.env = block_env(self.workdir)

    def run(self, block: Block) -> tuple[bool, str]:
        if block.runner == "python":
            return self._run_python(block)
        script = console_script(block.code) if block.runner == "console" else block.code
        try:
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=self.workdir,
                                  env=self.env, capture_output=True, text=True,
                                  timeout=BLOCK_TIMEOUT_S, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            return False, f"timed out after {BLOCK_TIMEOUT_S:.0f} s\n{_text(exc.stdout)}" \
                          f"{_text(exc.stderr)}"
        output = done.stdout + done.stderr
        if done.returncode != 0:
            return False, f"exit {done.returncode}\n{output}"
        return True, output

    def _start_python(self) -> subprocess.Popen[str]:
        if self._python is None:
            self._python = subprocess.Popen(
                [sys.executable, "-I", str(DRIVER)], cwd=self.workdir, env=self.env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, bufsize=1)
            stdout = self._python.stdout
            assert stdout is not None

            def pump() -> None:
                for text in stdout:
                    self._lines.put(text)
                self._lines.put(None)

            threading.Thread(target=pump, daemon=True).start()
        return self._python

    def _run_python(self, block: Block) -> tuple[bool, str]:
        proc = self._start_python()
        assert proc.stdin is not None
        request = {"code": block.code, "filename": str(block.path), "line": block.line}
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
        except BrokenPipeError:
            return False, "the Python process of this file has exited"
        output: list[str] = []
        while True:
            try:
                text = self._lines.get(timeout=BLOCK_TIMEOUT_S)
            except queue.Empty:
                self.close()
                return False, f"timed out after {BLOCK_TIMEOUT_S:.0f} s\n{''.join(output)}"
            if text is None:
                return False, "the Python process exited\n" + "".join(output)
            if text.startswith(RESULT_PREFIX):
                result = json.loads(text[len(RESULT_PREFIX):])
                return bool(result["ok"]), "".join(output) + result["error"]
            output.append(text)

    def close(self) -> None:
        if self._python is not None:
            with contextlib.suppress(OSError):
                if self._python.stdin is not None:
                    self._python.stdin.close()
            try:
                self._python.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._python.kill()
                self._python.wait()
            self._python = None


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


@contextlib.contextmanager
def session(workdir: Path) -> Iterator[DocSession]:
    s = DocSession(workdir)
    try:
        yield s
    finally:
        s.close()


def run_file(path: Path, workdir: Path) -> list[Outcome]:
    """Run every runnable, unmarked block of `path` in order; stop at the first failure."""
    outcomes: list[Outcome] = []
    failed = False
    with session(workdir) as s:
        for block in extract(path):
            if block.runner is None:
                outcomes.append(Outcome(block, "shown"))
            elif block.not_run is not None:
                outcomes.append(Outcome(block, "not-run", block.not_run))
            elif failed:
                outcomes.append(Outcome(block, "not reached"))
            else:
                ok, output = s.run(block)
                outcomes.append(Outcome(block, "ok" if ok else "FAILED", output))
                failed = not ok
    return outcomes


def report(outcomes: list[Outcome], tail_lines: int = 40) -> str:
    """Every runnable block by file and line with what happened; the failure's output."""
    lines = []
    for o in outcomes:
        if o.status == "shown":
            continue
        note = f" ({o.output})" if o.status == "not-run" else ""
        lines.append(f"  {o.block.where:<28} {o.block.lang:<8} {o.status}{note}")
    for o in outcomes:
        if o.status == "FAILED":
            tail = "\n".join(o.output.rstrip().splitlines()[-tail_lines:])
            lines.append(f"\n{o.block.where} ({o.block.lang}) failed:\n{tail}\n"
                         "A block that cannot run in a test takes `<!-- not-run: reason -->` "
                         "on the line just before its fence (docs/internals.md).")
    return "\n".join(lines)
