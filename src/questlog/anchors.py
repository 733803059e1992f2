"""Anchors: signed checkpoints of the log's head, kept outside the store.

The hash chain shows any event that was changed *inside* the chain, but whoever can
rewrite the file can also delete the last events (and fix the `streams` table up), or
change an event and recompute every hash after it: the result is a valid chain. An
anchor records "position P had hash H" with an HMAC-SHA256 signature
(`QUESTLOG_ANCHOR_KEY`) in an append-only JSON-lines file that lives where the log's
owner cannot rewrite it together with the log (beside the replica, another host, a
write-once bucket). `verify_anchors` then checks that the log still reaches every
anchor with the same hash: a truncated tail, a recomputed chain and a forged last event
up to the last anchor all contradict one. Events after the last anchor are covered only
by the chain, so the writer anchors every `QUESTLOG_ANCHOR_EVERY_EVENTS` events or
`QUESTLOG_ANCHOR_EVERY_S` seconds (off while no key is set), from its own thread.

An anchor only ever names a committed, durable position: it is read from the database
in a read transaction (so committed) and the database's WAL and main file are fsynced
before the anchor is written, so even at `QUESTLOG_DURABILITY=NORMAL` a power cut
cannot take back a position an anchor names.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError
from .events import GENESIS_HASH, canonical_json, utc_now
from .files import fsync_dir
from .settings import Settings

if TYPE_CHECKING:
    from .storage.backend import Backend

log = logging.getLogger("questlog.anchors")

FORMAT_VERSION = 1
MIN_KEY_CHARS = 16
_SIGNED_PREFIX = b"questlog-anchor\n"  # domain separation: this key signs nothing else
_KEY_ID_MESSAGE = b"questlog-anchor-key-id"
_HEX = frozenset("0123456789abcdef")

try:  # advisory lock so two processes anchoring the same file never interleave a line
    import fcntl
except ImportError:  # pragma: no cover - Windows: O_APPEND alone
    fcntl = None  # type: ignore[assignment]


def default_anchor_path(db_path: Path) -> Path:
    """`<db>.anchors.jsonl` beside the store (move it elsewhere: see the README)."""
    return db_path.with_name(db_path.name + ".anchors.jsonl")


def anchor_path(settings: Settings, db_path: Path | str, override: Path | None = None) -> Path:
    """The anchor file: the explicit one, else QUESTLOG_ANCHOR_PATH, else beside the store
    file (a store on a server, named by its URL, has no file to put it beside)."""
    chosen = override or settings.anchor_path
    if chosen is not None:
        return chosen
    if isinstance(db_path, str):
        raise ConfigurationError(
            "a store on a database server has no file to keep anchors beside: set "
            "QUESTLOG_ANCHOR_PATH (or give the anchor file's path)")
    return default_anchor_path(db_path)


class AnchorKey:
    """The HMAC-SHA256 key; its `key_id` (an HMAC of a constant) tells keys apart in a
    record without revealing the key, so a wrong key is reported as such."""

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_KEY_CHARS:
            raise ConfigurationError(
                f"QUESTLOG_ANCHOR_KEY is too short ({len(secret)} characters): use at least "
                f"{MIN_KEY_CHARS} random characters, e.g. the output of `openssl rand -hex 32`")
        self._secret = secret.encode("utf-8")
        self.key_id = hmac.new(self._secret, _KEY_ID_MESSAGE, hashlib.sha256).hexdigest()[:16]

    @classmethod
    def from_settings(cls, settings: Settings) -> AnchorKey:
        if settings.anchor_key is None:
            raise ConfigurationError(
                "QUESTLOG_ANCHOR_KEY is not set: anchors cannot be signed or checked without it")
        return cls(settings.anchor_key.get_secret_value())

    def sign(self, body: dict[str, Any]) -> str:
        message = _SIGNED_PREFIX + canonical_json(body).encode("utf-8")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Anchor:
    """One signed checkpoint: the log's head `position` had hash `hash` at `anchored_at`.

    `body` is every field of the record but the signature (unknown fields read from a
    file stay in it, so they stay signed)."""

    body: dict[str, Any]
    sig: str

    @property
    def position(self) -> int:
        return int(self.body["position"])

    @property
    def hash(self) -> str:
        return str(self.body["hash"])

    @property
    def anchored_at(self) -> str:
        return str(self.body["anchored_at"])

    @property
    def key_id(self) -> str:
        return str(self.body["key_id"])

    @classmethod
    def make(cls, key: AnchorKey, position: int, hash_: str) -> Anchor:
        body = {"v": FORMAT_VERSION, "position": position, "hash": hash_,
                "anchored_at": utc_now(), "key_id": key.key_id}
        return cls(body, key.sign(body))

    def line(self) -> str:
        return canonical_json({**self.body, "sig": self.sig}) + "\n"

    def as_dict(self) -> dict[str, Any]:
        return {**self.body, "sig": self.sig}

    @classmethod
    def parse(cls, text: str) -> Anchor:
        """A record from one line; ValueError saying what is wrong with it."""
        try:
            record = json.loads(text)
        except ValueError as exc:
            raise NotJSON(f"not JSON ({exc})") from None
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        if record.get("v") != FORMAT_VERSION:
            raise ValueError(f"unknown anchor format {record.get('v')!r}")
        sig = record.pop("sig", None)
        position = record.get("position")
        if not isinstance(position, int) or isinstance(position, bool) or position < 0:
            raise ValueError("position is not an integer >= 0")
        for name in ("hash", "anchored_at", "key_id"):
            if not isinstance(record.get(name), str):
                raise ValueError(f"{name} is missing or not a string")
        if not _is_hex(record["hash"], 64) or not isinstance(sig, str) or not _is_hex(sig, 64):
            raise ValueError("hash or sig is not 64 hex digits")
        return cls(record, sig)

    def signature_problem(self, key: AnchorKey) -> str | None:
        """None when the signature holds, else why not (wrong key vs. altered record)."""
        if hmac.compare_digest(key.sign(self.body), self.sig):
            return None
        if self.key_id != key.key_id:
            return (f"signature invalid: signed with a different key (key id {self.key_id}, "
                    f"QUESTLOG_ANCHOR_KEY's is {key.key_id}); check the key, the log itself "
                    "was not checked against this anchor")
        return "signature invalid: the record was altered after it was signed"


class NotJSON(ValueError):
    """A line that is not JSON at all: most likely torn by a crash while it was written."""


def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and set(text) <= _HEX


# -- the file ------------------------------------------------------------------------------

class AnchorFile:
    """An append-only JSON-lines file of anchors: every append is one write of one line
    under an advisory lock, then fsync (and the directory's fsync when it was created)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, anchor: Anchor) -> None:
        data = anchor.line().encode("utf-8")
        fd = self._open()
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # a torn line (crash mid-write) stays a line of its own
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot write the anchor file {self.path}: {exc.strerror or exc}") from None
        finally:
            os.close(fd)  # also releases the lock

    def check_writable(self) -> None:
        """Raise ConfigurationError now, rather than at the first anchor, if it cannot be."""
        os.close(self._open())

    def _open(self) -> int:
        """The file opened for appending (created, with its directory entry made durable,
        when missing)."""
        created = not self.path.exists()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot open the anchor file {self.path}: {exc.strerror or exc}") from None
        if created:
            fsync_dir(self.path.parent)
        return fd

    def lines(self) -> Iterator[tuple[int, str]]:
        """(line number, text) for every non-blank line."""
        with self.path.open("rb") as f:
            for number, raw in enumerate(f, 1):
                text = raw.decode("utf-8", errors="replace").strip()
                if text:
                    yield number, text

    def last_position(self) -> int:
        """Position of the last readable record (0 when none): where periodic anchoring
        resumes. Not a check: `verify_anchors` is."""
        if not self.path.exists():
            return 0
        with self.path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            tail = f.read().decode("utf-8", errors="replace").splitlines()
        for text in reversed(tail):
            try:
                return Anchor.parse(text).position
            except ValueError:
                continue
        return 0


# -- taking and checking anchors -----------------------------------------------------------

def take_anchor(backend: Backend, key: AnchorKey, path: Path) -> Anchor:
    """Anchor the log's current committed head in `path` (made durable first)."""
    with backend.read() as session:
        position, digest = backend.log.head(session)
    backend.make_durable()
    anchor = Anchor.make(key, position, digest)
    AnchorFile(path).append(anchor)
    return anchor


@dataclass(frozen=True, slots=True)
class AnchorFault:
    line: int
    kind: str  # "malformed", "signature_invalid", "truncated", "rewritten", "missing"
    message: str
    position: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "kind": self.kind, "position": self.position,
                "message": self.message}


@dataclass
class AnchorReport:
    """What `verify --anchors` found: `faults` in file order, the first one named."""

    path: Path
    head: int
    anchors: int = 0
    reached: int = 0
    last_position: int = 0
    skipped_lines: list[int] = field(default_factory=list)
    faults: list[AnchorFault] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.faults

    @property
    def tampered(self) -> bool:
        """True when the log contradicts a validly signed anchor."""
        return any(f.kind in ("truncated", "rewritten") for f in self.faults)

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "ok": self.ok, "head": self.head,
                "anchors": self.anchors, "reached": self.reached,
                "last_position": self.last_position, "skipped_lines": self.skipped_lines,
                "first_fault": self.faults[0].as_dict() if self.faults else None,
                "faults": [f.as_dict() for f in self.faults[:20]], "fault_count": len(self.faults)}


def verify_anchors(backend: Backend, key: AnchorKey, path: Path) -> AnchorReport:
    """Check every anchor in `path`: signed by `key`, and reached by the log with its hash."""
    if not path.is_file():
        with backend.read() as session:
            head, _ = backend.log.head(session)
        report = AnchorReport(path, head)
        report.faults.append(AnchorFault(0, "missing", f"no anchor file at {path}"))
        return report
    entries: list[tuple[int, Anchor]] = []
    faults: list[AnchorFault] = []
    skipped: list[int] = []
    for number, text in AnchorFile(path).lines():
        try:
            entries.append((number, Anchor.parse(text)))
        except NotJSON:
            # A crash mid-append leaves a torn line (the next append starts a new line
            # after it). Skipping it loses nothing: an unsigned line vouches for nothing.
            skipped.append(number)
        except ValueError as exc:
            faults.append(AnchorFault(number, "malformed",
                                      f"line {number} is not an anchor record: {exc}"))
    with backend.read() as session:
        head, _ = backend.log.head(session)
        stored = backend.log.hashes_at(session, (a.position for _, a in entries))
    report = AnchorReport(path, head, anchors=len(entries), skipped_lines=skipped)
    for number, anchor in entries:
        where = (f"anchor on line {number} (position {anchor.position}, "
                 f"anchored {anchor.anchored_at})")
        problem = anchor.signature_problem(key)
        if problem is not None:
            faults.append(AnchorFault(number, "signature_invalid", f"{where}: {problem}",
                                      anchor.position))
            continue
        if anchor.position == 0:
            found: str | None = anchor.hash if anchor.hash == GENESIS_HASH else None
        else:
            found = stored.get(anchor.position)
        if anchor.position > head:
            faults.append(AnchorFault(
                number, "truncated", f"{where}: the log ends at position {head}, before the "
                "anchor: events were removed from its tail", anchor.position))
        elif found != anchor.hash:
            faults.append(AnchorFault(
                number, "rewritten", f"{where}: the log's hash there differs from the anchored "
                f"one: the log was rewritten at or before position {anchor.position}",
                anchor.position))
        else:
            report.reached += 1
            report.last_position = max(report.last_position, anchor.position)
    report.faults = sorted(faults, key=lambda f: f.line)
    return report


# -- periodic anchoring by the writer ------------------------------------------------------

class Anchorer:
    """Anchors the head every `every_events` events or `every_s` seconds, on its own thread.

    The writer calls `committed(head)` after each commit it has resolved (head None when
    it does not know it): a comparison, sometimes an Event.set — nothing that waits. The
    thread reads the head itself, so an anchor always names a committed position.
    """

    def __init__(self, backend: Backend, key: AnchorKey, path: Path, *, every_events: int,
                 every_s: float) -> None:
        self._backend = backend
        self._key = key
        self.path = path
        self._every_events = every_events
        self._every_s = every_s
        AnchorFile(path).check_writable()
        self.last_position = AnchorFile(path).last_position()
        self._last_time = time.monotonic()
        self.anchors_written = 0
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # one anchor at a time (the thread, then close())
        self._thread = threading.Thread(target=self._run, name="questlog-anchorer", daemon=True)
        self._thread.start()

    @classmethod
    def from_settings(cls, backend: Backend, settings: Settings,
                      db_path: Path | str) -> Anchorer | None:
        """The writer's anchorer, or None while no key is set or both triggers are 0."""
        if settings.anchor_key is None or not (settings.anchor_every_events
                                               or settings.anchor_every_s):
            return None
        return cls(backend, AnchorKey.from_settings(settings), anchor_path(settings, db_path),
                   every_events=settings.anchor_every_events, every_s=settings.anchor_every_s)

    def committed(self, head: int | None) -> None:
        """Called on the writer thread after a commit; must stay cheap."""
        if head is None or (self._every_events
                            and head - self.last_position >= self._every_events):
            self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            timeout = (max(0.0, self._last_time + self._every_s - time.monotonic())
                       if self._every_s else None)
            self._wake.wait(timeout)
            self._wake.clear()
            if self._stopping.is_set():
                return
            self._anchor_if_due()
            # Commits with an unknown head (write jobs) wake the thread at most ~10 times/s.
            self._stopping.wait(0.1)

    def _anchor_if_due(self, *, final: bool = False) -> None:
        with self._lock:
            try:
                with self._backend.read() as session:
                    head = self._backend.log.head_position(session)
                new = head - self.last_position
                due = new > 0 and (
                    final
                    or bool(self._every_events and new >= self._every_events)
                    or bool(self._every_s
                            and time.monotonic() - self._last_time >= self._every_s))
                if not due:
                    if new <= 0:
                        self._last_time = time.monotonic()
                    return
                anchor = take_anchor(self._backend, self._key, self.path)
            except Exception as exc:  # never let anchoring take the writer down
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.error("anchoring failed: %s", self.last_error)
                self._last_time = time.monotonic()
                return
            self.last_position = anchor.position
            self._last_time = time.monotonic()
            self.anchors_written += 1
            self.last_error = None

    def close(self) -> None:
        """Stop the thread and anchor whatever was committed since the last anchor."""
        self._stopping.set()
        self._wake.set()
        self._thread.join()
        self._anchor_if_due(final=True)
