"""Who checkpoints a store's WAL: its writers, or the Litestream that replicates it.

Litestream ships WAL frames before they reach the database file and runs its own
checkpoints; a checkpoint made behind its back (SQLite's autocheckpoint in a
writer) can leave a separate `questlog replicate` shipping nothing for seconds.
Both sides therefore announce themselves with flock(2) locks on small files
beside the database — a dead process releases its lock, so no marker goes stale:

- `<db>-replicate.lock`: held exclusively by every process that runs Litestream
  on the file (`ReplicationLock`, taken by `Replicator.start`).
- `<db>-writer.lock`: held shared by every questlog process that opened the file
  for writing (`WriterMarker`). Holding it promises the rule below;
  `questlog replicate` warns about any other process that has the file open
  for writing, since nothing tells it whether that one checkpoints.

The rule: before each write batch a writer asks `CheckpointGuard.apply`
(`questlog.sqlite.wal`, which issues the pragma), which
sets `wal_autocheckpoint` to 0 while a replicate lock is held (or always, with
`QUESTLOG_LITESTREAM_ACTIVE=1`) and back to SQLite's default once it is gone.
The question costs one stat(2) when no lock file exists, and open + flock +
close when one does. A writer that found no replicate lock trusts that answer for
`ABSENT_RECHECK_S`: every system call hands the GIL to the producer threads, and the
writer waits behind them to get it back (with 32 producers that wait is most of a
batch's cost). `ReplicationLock` waits as long after taking the lock, so Litestream
never starts before every writer has seen it; a lock that is held is asked about before
every batch, so writers take checkpoints back as soon as it is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

ABSENT_RECHECK_S = 0.05


def replicate_lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + "-replicate.lock")


def writer_lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + "-writer.lock")


def held_by_someone_else(path: str | Path) -> bool:
    """Whether another open file description holds an exclusive flock on `path` (a
    writer asks before every batch: pass the path as a prepared string)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing also drops the probe's own shared lock
    return False


def replication_watching(db_path: Path) -> bool:
    """True while some process runs Litestream on this database (holds its replicate lock)."""
    return held_by_someone_else(replicate_lock_path(db_path))


class ReplicationLock:
    """Held by the process that runs Litestream on `db_path`, before Litestream starts.

    Raises BlockingIOError when another process holds it (two Litestreams on one
    file would each checkpoint behind the other's back). The file is removed on
    release, so a writer with no replication in sight pays one stat(2) per batch.
    """

    # Writers' probes hold a shared lock for microseconds: retry that long, not forever.
    ACQUIRE_PATIENCE_S = 0.5

    def __init__(self, db_path: Path) -> None:
        self.path = replicate_lock_path(db_path)
        deadline = time.monotonic() + self.ACQUIRE_PATIENCE_S
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
                continue
            except BaseException:
                os.close(fd)
                raise
            # A releasing holder may have unlinked the file we opened: lock the live one.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self._fd: int | None = fd
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        # A writer may trust an answer of "no lock" this long: past it, every writer asks
        # again before its next batch, so none still checkpoints once Litestream runs.
        time.sleep(ABSENT_RECHECK_S)

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()  # while still locked, so no one locks a doomed file
            os.close(self._fd)
            self._fd = None

    @staticmethod
    def holder(db_path: Path) -> str:
        """The pid recorded by the current holder (for messages), or '?'."""
        with contextlib.suppress(OSError):
            return replicate_lock_path(db_path).read_text().strip() or "?"
        return "?"


class WriterMarker:
    """Held (shared) by a questlog process with the store open for writing."""

    def __init__(self, db_path: Path) -> None:
        self.path = writer_lock_path(db_path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # shared: never contended
        except BaseException:
            os.close(fd)
            raise
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    @classmethod
    def try_acquire(cls, db_path: Path) -> WriterMarker | None:
        """The marker, or None where it cannot be created (a read-only directory, in
        which no SQLite writer can create its -wal either)."""
        try:
            return cls(db_path)
        except OSError:
            return None


def _proc_flock_holders(path: Path) -> set[int]:
    """Pids holding a flock on `path`, from /proc/locks (Linux)."""
    try:
        st = path.stat()
        text = Path("/proc/locks").read_text()
    except OSError:
        return set()
    ident = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pids: set[int] = set()
    for line in text.splitlines():
        fields = line.split()
        if "->" in fields or len(fields) < 6 or fields[1] != "FLOCK":
            continue
        with contextlib.suppress(ValueError):
            if fields[5] == ident:
                pids.add(int(fields[4]))
    return pids


def _opened_for_writing(pid: int, targets: set[str]) -> bool:
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        fds = list(fd_dir.iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(fd) not in targets:
                continue
            flags_line = (Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text()
                          .split("flags:", 1)[1].split()[0])
        except (OSError, IndexError):
            continue
        if int(flags_line, 8) & os.O_ACCMODE != os.O_RDONLY:
            return True
    return False


def unadvertised_writers(db_path: Path) -> list[tuple[int, str]]:
    """Other processes with the database open for writing that hold no writer marker.

    Linux only (/proc); elsewhere, or for processes we may not inspect, it finds none.
    """
    resolved = db_path.resolve()
    targets = {str(resolved), f"{resolved}-wal"}
    advertised = _proc_flock_holders(writer_lock_path(resolved))
    found: list[tuple[int, str]] = []
    me = os.getpid()
    try:
        entries = list(Path("/proc").iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == me or pid in advertised or not _opened_for_writing(pid, targets):
            continue
        try:
            name = (entry / "comm").read_text().strip()
        except OSError:
            name = "?"
        found.append((pid, name))
    return sorted(found)
