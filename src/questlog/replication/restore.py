"""`litestream restore`: latest, to a timestamp, or to a txid, then checked.

Point-in-time granularity is Litestream's: a restore to T holds every
transaction whose LTX file was on the replica by T. Writes acknowledged with
`wait_replicated` before T are therefore all there; a write committed just
before T but uploaded after it is not (the sync interval bounds that window).
Level-0 files give per-sync granularity for `l0_retention`; older times fall
back to compaction levels (30 s, 5 min, 1 h).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from ..errors import ReplicationError
from ..sqlite.schema import integrity_problems
from .binary import error_text, find_binary, list_ltx, run
from .options import normalize_replica_url

log = logging.getLogger("questlog.replication")

IntegrityMode = Literal["none", "quick", "full"]
SIDE_SUFFIXES = ("-wal", "-shm", "-txid")


@dataclass(frozen=True)
class RestoreResult:
    path: Path
    replica_url: str
    txid: int
    duration_s: float
    integrity_check: str


def format_timestamp(timestamp: datetime | str) -> str:
    """RFC 3339 in UTC with microseconds, as `litestream restore -timestamp` parses it."""
    if isinstance(timestamp, str):
        try:
            parsed = datetime.fromisoformat(timestamp.strip())
        except ValueError as exc:
            raise ReplicationError(
                f"invalid timestamp {timestamp!r}: use RFC 3339, e.g. 2026-01-31T12:00:00Z"
            ) from exc
    else:
        parsed = timestamp
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_txid(txid: int | str) -> str:
    """Litestream's 16-digit hex txid (accepts an int, or hex text with or without 0x)."""
    if isinstance(txid, str):
        text = txid.strip().lower().removeprefix("0x")
        try:
            value = int(text, 16)
        except ValueError as exc:
            raise ReplicationError(f"invalid txid {txid!r}: hexadecimal expected") from exc
    else:
        value = txid
    if value < 1:
        raise ReplicationError(f"invalid txid {txid!r}: must be >= 1")
    return f"{value:016x}"


def remove_database_files(path: Path) -> None:
    """Delete a database and its sidecars (-wal, -shm, Litestream's -txid)."""
    for suffix in ("", *SIDE_SUFFIXES):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def integrity_check(path: Path) -> None:
    """SQLite's integrity check of the restored file; ReplicationError if not ok."""
    problems = integrity_problems(path)
    if problems:
        raise ReplicationError(f"restored database {path} fails integrity_check: {problems[:3]}")


def restore(
    replica_url: str,
    output: Path | str,
    *,
    timestamp: datetime | str | None = None,
    txid: int | str | None = None,
    integrity: IntegrityMode = "full",
    force: bool = False,
    binary: str | None = None,
    timeout: float = 600.0,
) -> RestoreResult:
    """Restore the replica into `output` and check the file's integrity.

    Raises ReplicationError when the binary is missing, the replica is
    unreachable or empty, the point in time is not restorable, or the output
    exists (unless `force`).
    """
    if timestamp is not None and txid is not None:
        raise ReplicationError("give a timestamp or a txid, not both")
    url = normalize_replica_url(replica_url)
    out = Path(output).resolve()
    exe = find_binary(binary)
    if out.exists():
        if not force:
            raise ReplicationError(f"output {out} already exists (use force to overwrite)")
        remove_database_files(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not list_ltx(url, binary=exe):
        raise ReplicationError(f"replica {url} is empty or does not exist: nothing to restore")
    args = ["restore", "-json", "-integrity-check", integrity, "-o", str(out)]
    if timestamp is not None:
        args += ["-timestamp", format_timestamp(timestamp)]
    if txid is not None:
        args += ["-txid", format_txid(txid)]
    args.append(url)
    began = time.monotonic()
    proc = run(exe, args, timeout=timeout)
    if proc.returncode != 0:
        remove_database_files(out)
        what = (f" to {format_timestamp(timestamp)}" if timestamp is not None else
                f" to txid {format_txid(txid)}" if txid is not None else "")
        raise ReplicationError(f"restore of {url}{what} failed: {error_text(proc)}")
    restored_txid = 0
    try:
        summary = json.loads(proc.stdout)
        restored_txid = int(str(summary.get("txid", "0")), 16)
    except (json.JSONDecodeError, ValueError, AttributeError):
        log.warning("unexpected restore summary from litestream: %r", proc.stdout[:200])
    if not out.exists():
        raise ReplicationError(f"litestream reported success but wrote no file at {out}")
    integrity_check(out)
    return RestoreResult(out, url, restored_txid, time.monotonic() - began, integrity)


@dataclass(frozen=True)
class RestoredStore:
    """A restored questlog store, checked: SQLite integrity and the log's own verify."""

    restore: RestoreResult
    head_position: int
    events: int
    verify: dict[str, object]
    projections: list[dict[str, object]]

    def as_dict(self) -> dict[str, object]:
        return {
            "path": str(self.restore.path), "replica_url": self.restore.replica_url,
            "txid": f"{self.restore.txid:016x}", "duration_s": round(self.restore.duration_s, 3),
            "integrity_check": self.restore.integrity_check, "head_position": self.head_position,
            "events": self.events, "verify": self.verify, "projections": self.projections,
        }


def restore_store(
    replica_url: str,
    output: Path | str,
    *,
    timestamp: datetime | str | None = None,
    txid: int | str | None = None,
    force: bool = False,
    binary: str | None = None,
) -> RestoredStore:
    """Restore, open the result read-only, verify its log, and report its projections.

    Raises VerificationFailed when the restored log does not verify.
    """
    from ..errors import VerificationFailed
    from ..store import Store

    result = restore(replica_url, output, timestamp=timestamp, txid=txid, force=force,
                     binary=binary)
    store = Store.open(result.path, read_only=True)
    try:
        report = store.verify()
        if not report.ok:
            raise VerificationFailed(
                f"restored log at {result.path} fails verification: {report.problems[:3]}",
                report.first_bad_position,
            )
        head = store.head_position()
        try:
            projections = [_plain(s) for s in store.projections.status()]
        except Exception as exc:  # status needs projector code; the restore itself is fine
            log.warning("projection status of the restored store unavailable: %s", exc)
            projections = []
        return RestoredStore(result, head, report.events, report.as_dict(), projections)
    finally:
        store.close()


def _plain(value: object) -> dict[str, object]:
    if isinstance(value, dict):
        return dict(value)
    if hasattr(value, "as_dict"):
        return dict(value.as_dict())
    if hasattr(value, "model_dump"):
        return dict(value.model_dump(mode="json"))
    from dataclasses import asdict, is_dataclass

    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return {"value": str(value)}
