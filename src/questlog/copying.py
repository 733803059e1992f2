"""Moving a store: copy its log verbatim to another store (any backend), build the read
models there, and prove the two agree by their `projections hash` digests.

`copy_store(source, target)` works only through the storage ports, so it moves a
store between any two backends (SQLite file, PostgreSQL URL) in either direction:

1. **Check.** SOURCE opens read-only. TARGET must be empty (no event in its log),
   or hold a prefix of SOURCE's log (an interrupted or earlier copy: its head hash
   equals SOURCE's hash at that position), which the copy then resumes. Anything
   else is refused before a byte is written (`CopyRefused`).
2. **Snapshot.** In one read transaction of SOURCE: its head H (the copy covers
   positions 1..H even if SOURCE grows meanwhile), its projector checkpoints and the
   digest of every read model (`storage.digests`, engine-independent).
3. **The log.** Read in position order, `batch` events at a time (memory is bounded
   by two batches whatever the log's size: the next batch is read while the writer
   commits the last). Each event's hash is recomputed over the previous hash and
   its canonical encoding before it is written, so a SOURCE whose chain is broken is
   refused at the first bad position (`SourceChainBroken`; what was copied before
   that batch stays in TARGET, a valid prefix). Each batch is written in one
   transaction of TARGET's writer (`store.write`) by the backend's
   `LogRecorder.insert` with the rows as stored: event ids, positions, stream
   versions, recorded times, data and metadata text and hashes all verbatim. No
   projector runs during this step.
4. **Read models.** TARGET reopens with every projector, which registers them and
   catches them all up to H (the search index takes vectors from TARGET's embedding
   cache; texts SOURCE's cache holds are copied there first, so nothing SOURCE had
   embedded is embedded again).
5. **Proof.** `verify` on TARGET, then each read model's digest on TARGET beside
   SOURCE's. A model SOURCE had not brought up to H (an async projector left behind,
   a parked one) cannot be compared and is reported as such.

Interruption (Ctrl-C, a crash): every committed batch is a valid prefix of SOURCE's
log, and read models are only built once the log is complete, so running the same
copy again resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import QuestlogError, StoreNotInitialized, VerificationFailed
from .events import GENESIS_HASH, RecordedEvent, canonical_json, event_digest
from .storage.select import parse_location

if TYPE_CHECKING:
    from .projection.projector import Projector
    from .storage.log import LogRow, VerifyReport
    from .storage.session import Session
    from .store import Store

BATCH = 2000
# (stage, done, total): stage "log" (events copied), then "read models" (events applied
# by the projector being caught up; `done` restarts for each projector).
Progress = Callable[[str, int, int], None]


class CopyRefused(QuestlogError):
    """The copy cannot start (TARGET not empty and not a prefix of SOURCE, the same store
    twice); nothing was written."""


class SourceChainBroken(VerificationFailed):
    """SOURCE's hash chain (or its positions) is broken at `position`."""

    exit_code = 2


@dataclass(frozen=True)
class DigestComparison:
    name: str
    source: str
    target: str
    compared: bool          # False: SOURCE's model had not applied the log up to the head
    note: str = ""

    @property
    def same(self) -> bool:
        return self.source == self.target

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "target": self.target,
                "compared": self.compared, "same": self.same, "note": self.note}


@dataclass
class CopyReport:
    source: str
    target: str
    head: int                       # SOURCE's head when the copy started: TARGET's now
    resumed_from: int               # TARGET's head before this run (0: a fresh copy)
    copied: int                     # events written by this run
    verify: VerifyReport | None = None
    digests: list[DigestComparison] = field(default_factory=list)

    @property
    def differing(self) -> list[DigestComparison]:
        return [d for d in self.digests if d.compared and not d.same]

    @property
    def ok(self) -> bool:
        return self.verify is not None and self.verify.ok and not self.differing

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "head": self.head,
                "resumed_from": self.resumed_from, "copied": self.copied, "ok": self.ok,
                "verify": self.verify.as_dict() if self.verify is not None else None,
                "digests": [d.as_dict() for d in self.digests]}


@dataclass(frozen=True)
class _Snapshot:
    head: int
    positions: dict[str, tuple[int, str, int]]   # name -> (checkpoint position, state, version)
    digests: dict[str, str]
    current: frozenset[str]    # projectors whose models reflect the log up to `head`


def copy_store(source: str | Path, target: str | Path, *, batch: int = BATCH,
               progress: Progress | None = None,
               projectors: Sequence[Projector] | None = None) -> CopyReport:
    """Copy SOURCE's log into TARGET, build TARGET's read models, compare the digests.

    `projectors` replaces the discovered set on both stores (tests). Raises
    `CopyRefused` (nothing written), `SourceChainBroken`; a report whose `ok` is False
    says which digests differ or what `verify` found on TARGET.
    """
    from .store import Store

    _refuse_same_store(source, target)
    with Store.open(source, read_only=True, create=False, projectors=projectors) as src:
        resumed_from = _target_head_if_prefix(src, target)
        snapshot = _snapshot(src)
        if resumed_from > snapshot.head:
            raise CopyRefused(
                f"TARGET's log ({resumed_from} events) is longer than SOURCE's "
                f"({snapshot.head}): TARGET is not a copy of SOURCE; nothing was written")
        report = CopyReport(str(source), str(target), snapshot.head, resumed_from, 0)
        with Store.open(target, create=True, projectors=[]) as tgt:
            report.copied = _copy_log(src, tgt, resumed_from, snapshot.head, batch, progress)
        with Store.open(target, create=False, projectors=projectors) as tgt:
            _copy_embeddings(src, tgt)
            _build_read_models(tgt, progress)
            report.verify = tgt.verify()
            report.digests = _compare(tgt, snapshot)
    return report


# -- checks ------------------------------------------------------------------------------

def _same_location(a: str | Path, b: str | Path) -> bool:
    first, second = parse_location(a), parse_location(b)
    if first.backend != second.backend:
        return False
    if first.path is not None and second.path is not None:
        return first.path.resolve() == second.path.resolve()
    return first.url == second.url


def _refuse_same_store(source: str | Path, target: str | Path) -> None:
    if _same_location(source, target):
        raise CopyRefused(f"SOURCE and TARGET are the same store ({source}); nothing was "
                          "written")


def _target_head_if_prefix(src: Store, target: str | Path) -> int:
    """TARGET's head when its log is empty or a prefix of SOURCE's; else CopyRefused.
    TARGET is only opened read-only here (a missing store counts as empty)."""
    from .store import Store

    try:
        tgt = Store.open(target, read_only=True, create=False, projectors=[])
    except StoreNotInitialized:
        return 0
    with tgt, tgt.read() as session:
        head, head_hash = tgt.backend.log.head(session)
    if head == 0:
        return 0
    with src.read() as session:
        theirs = src.backend.log.hashes_at(session, [head]).get(head)
    if theirs != head_hash:
        where = ("SOURCE's log is shorter" if theirs is None
                 else f"its event at position {head} differs from SOURCE's")
        raise CopyRefused(
            f"TARGET is not empty: it holds {head} events and is not a copy of SOURCE "
            f"({where}); give an empty or new TARGET (nothing was written)")
    return head


def _snapshot(src: Store) -> _Snapshot:
    """SOURCE's head, checkpoints and digests, read in one transaction."""
    from .projection.digest import projector_digest

    manager = src.projections
    with src.read() as session:
        head = src.backend.log.head_position(session)
        checkpoints = src.checkpoints.read(session)
        digests = {p.name: projector_digest(src.readmodels, session, p)
                   for p in manager.projectors}
        positions: dict[str, tuple[int, str, int]] = {}
        current: set[str] = set()
        for p in manager.projectors:
            cp = checkpoints.get(p.name)
            if cp is None:
                continue
            positions[p.name] = (cp.position, cp.state, cp.version)
            if cp.version == p.version and cp.state == "live" and (
                    cp.position >= head or not _handles_any(src, session, p, cp.position, head)):
                current.add(p.name)
    return _Snapshot(head, positions, digests, frozenset(current))


def _handles_any(src: Store, session: Any, p: Projector, after: int, head: int) -> bool:
    """Whether `p` handles some event in (after, head]: a checkpoint behind the head over
    events it does not handle (inline checkpoints move lazily) still means current."""
    from .projection.projector import Projector as Base

    if type(p).handles is not Base.handles:
        return True  # its own rule: assume it does
    types = sorted(p.event_types) if p.event_types is not None else None
    categories = sorted(p.categories) if p.categories is not None else None
    found = src.backend.log.read_all(session, from_position=after + 1, to_position=head,
                                     limit=1, types=types, categories=categories,
                                     payload=False)
    return bool(found)


# -- the log -----------------------------------------------------------------------------

def _copy_log(src: Store, tgt: Store, after: int, head: int, batch: int,
              progress: Progress | None) -> int:
    """Positions after+1..head, verified and written batch by batch; returns the count."""
    with src.read() as session:
        prev_hash = (src.backend.log.hashes_at(session, [after]).get(after, GENESIS_HASH)
                     if after else GENESIS_HASH)
    recorder = tgt.backend.log
    position = after
    pending = None
    total = head - after
    if progress is not None:
        progress("log", 0, total)
    while position < head:
        with src.read() as session:
            events = src.backend.log.read_all(session, from_position=position + 1,
                                              to_position=min(position + batch, head))
        rows, prev_hash = _checked_rows(src, events, position, prev_hash)
        if pending is not None:
            pending.result()  # one batch in flight: the writer commits while we read

        def insert(session: Session, rows: list[LogRow] = rows) -> None:
            recorder.insert(session, rows)

        pending = tgt.write_later(insert)
        position = rows[-1][0]
        if progress is not None:
            progress("log", position - after, total)
    if pending is not None:
        pending.result()
    if progress is not None:
        progress("log", total, total)
    return total


def _checked_rows(src: Store, events: list[RecordedEvent], after: int,
                  prev_hash: str) -> tuple[list[LogRow], str]:
    """The events as log rows, each one's hash recomputed against the chain."""
    rows: list[LogRow] = []
    expected = after + 1
    if not events:
        raise SourceChainBroken(f"SOURCE's log has no event at position {expected} "
                                "(a gap)", expected)
    for e in events:
        if e.position != expected:
            raise SourceChainBroken(f"SOURCE's log skips from position {expected - 1} to "
                                    f"{e.position} (a gap); nothing from position "
                                    f"{after + 1} on was copied", expected)
        data, metadata = canonical_json(e.data), canonical_json(e.metadata)
        digest = event_digest(prev_hash, e.position, e.event_id, e.stream_id,
                              e.stream_version, e.type, e.schema_version, data, metadata,
                              e.recorded_at)
        if digest != e.hash:
            _explain_bad_hash(src, e.position, after)
        rows.append((e.position, e.event_id, e.stream_id, e.stream_version, e.category,
                     e.type, e.schema_version, data, metadata, e.recorded_at, e.hash))
        prev_hash = e.hash
        expected += 1
    return rows, prev_hash


def _explain_bad_hash(src: Store, position: int, after: int) -> None:
    """A recomputed hash differs: either SOURCE's chain is broken (its own `verify` says
    where), or its stored JSON text is not the canonical encoding of what it decodes to."""
    report = src.verify()
    first = report.first_bad_position
    if not report.ok and first is not None and first <= position:
        problem = next((p for p in report.problems if f"position {first}:" in p),
                       report.problems[0] if report.problems else "")
        raise SourceChainBroken(
            f"SOURCE fails verify at position {first} ({problem}); copied up to position "
            f"{after} (a valid prefix), nothing from {after + 1} on", first)
    raise CopyRefused(
        f"the event at position {position} of SOURCE passes SOURCE's verify, but its stored "
        "JSON is not canonical, so the copy could not keep its hash; nothing from position "
        f"{after + 1} on was copied")


# -- read models -------------------------------------------------------------------------

def _copy_embeddings(src: Store, tgt: Store) -> None:
    """Vectors SOURCE's embedding cache holds for its search chunks' texts, for the
    embedder in use, into TARGET's cache: catching up the search index then embeds
    nothing SOURCE had embedded. Skipped when SOURCE has no search index."""
    if not any(p.name == "search_index" for p in tgt.projections.projectors):
        return
    from .search.cache import copy_vectors

    copy_vectors(src, tgt)


def _build_read_models(tgt: Store, progress: Progress | None) -> None:
    manager = tgt.projections
    tgt.start_writer()  # registers every projector and brings the inline ones to the head
    for p in manager.projectors:
        def report(done: int, total: int, name: str = p.name) -> None:
            if progress is not None:
                progress(f"read models: {name}", done, total)
        manager.catch_up([p.name], progress=report, raise_on_error=True)


def _compare(tgt: Store, snapshot: _Snapshot) -> list[DigestComparison]:
    from .projection.digest import projector_digest

    manager = tgt.projections
    with tgt.read() as session:
        checkpoints = tgt.checkpoints.read(session)
        theirs = {p.name: projector_digest(tgt.readmodels, session, p)
                  for p in manager.projectors}
    out: list[DigestComparison] = []
    for p in manager.projectors:
        mine = snapshot.digests[p.name]
        cp = checkpoints.get(p.name)
        at = snapshot.positions.get(p.name)
        target_at = (cp.position, cp.state, cp.version) if cp is not None else None
        if p.name in snapshot.current:
            out.append(DigestComparison(p.name, mine, theirs[p.name], True))
        elif at is not None and at == target_at:
            out.append(DigestComparison(p.name, mine, theirs[p.name], True,
                                        f"{at[1]} at position {at[0]} on both"))
        else:
            where = (f"at position {at[0]} of {snapshot.head} ({at[1]})" if at is not None
                     else "never run")
            out.append(DigestComparison(
                p.name, mine, theirs[p.name], False,
                f"not compared: SOURCE's model is {where}; TARGET's is built to the head"))
    return out
