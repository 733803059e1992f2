"""Load helpers of the PostgreSQL tests: writer processes that record every acknowledged
event, readers that poll the log meanwhile, and the checks of the log afterwards.

Tests import it by name (`import pg_load`; tests/postgres/conftest.py puts this
directory on sys.path). A writer process runs this file as a script:

    python pg_load.py URL NAME [--threads N] [--seconds S | --count N] [--default-store]
                      [--go FILE]

and prints `ready` once its store is open, then one line `ack EVENT_ID POSITION` per
event whose append call returned (flushed before the next call, so a SIGKILL loses no
acknowledged line). With `--default-store` it opens the store as users do
(`Store.open(url)`, the shipped projectors, so inline projectors run in its batches)
and its even threads append game events (a character, then items) that the inline
game models read; every other thread appends `Tick` events, one to three per call, on
`load-0` … `load-4`, streams shared by every process that no shipped model reads.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from questlog import NewEvent, Store

SHARED_STREAMS = 5
CAMPAIGN = "load"


def spawn_writer(url: str, name: str, *, threads: int = 1, seconds: float | None = None,
                 count: int | None = None, default_store: bool = False,
                 go: Path | None = None, stdout: IO[str] | int = subprocess.PIPE,
                 ) -> subprocess.Popen[str]:
    """Start a writer process (see the module docstring); stderr is a pipe."""
    args = [sys.executable, __file__, url, name, "--threads", str(threads)]
    if seconds is not None:
        args += ["--seconds", str(seconds)]
    if count is not None:
        args += ["--count", str(count)]
    if default_store:
        args.append("--default-store")
    if go is not None:
        args += ["--go", str(go)]
    return subprocess.Popen(args, stdout=stdout, stderr=subprocess.PIPE, text=True)


def acknowledged(lines: Iterable[str]) -> dict[str, int]:
    """{event id: position} from a writer's output (`ack` lines; others are ignored)."""
    out: dict[str, int] = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "ack":
            assert parts[1] not in out, f"event {parts[1]} acknowledged twice"
            out[parts[1]] = int(parts[2])
    return out


def character_id(name: str, thread: int) -> str:
    return f"{name}-{thread}"


class LogPoller(threading.Thread):
    """Polls the log by position through the public API on a store (and connections) of
    its own until stopped, and records what it saw: `seen` (position -> event id) and
    `problems` (a gap: position n+1 returned while n was not; a reordering: a position
    that held another event at an earlier poll). `subscribe=True` follows the log with
    `store.subscribe` (woken by LISTEN/NOTIFY) instead of `read_all` polls; polls re-read
    the last `OVERLAP` positions they saw, so a position whose event changed is found."""

    OVERLAP = 64

    def __init__(self, url: str, *, subscribe: bool = False) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.subscribe = subscribe
        self.stop = threading.Event()
        self.seen: dict[int, str] = {}
        self.problems: list[str] = []
        self.polls_that_grew = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with Store.open(self.url, projectors=[]) as store:
                if self.subscribe:
                    self._follow(store)
                else:
                    self._poll(store)
        except BaseException as exc:  # reported by the test, not lost in a thread
            self.error = exc

    def _see(self, position: int, event_id: str) -> None:
        nxt = len(self.seen) + 1
        if position < nxt:
            if self.seen[position] != event_id:
                self.problems.append(f"position {position} held {self.seen[position]}, "
                                     f"then {event_id}")
        elif position == nxt:
            self.seen[position] = event_id
        else:
            self.problems.append(f"position {position} seen before {nxt}")
            raise _Stop

    def _poll(self, store: Store) -> None:
        try:
            while True:
                last = self.stop.is_set()  # one more poll after the stop sees everything
                before = len(self.seen)
                for event in store.read_all(from_position=max(1, before + 1 - self.OVERLAP)):
                    self._see(event.position, event.event_id)
                self.polls_that_grew += len(self.seen) > before
                if last:
                    return
                time.sleep(0.005)  # poll hard, but leave the writers the cores
        except _Stop:
            return

    def _follow(self, store: Store) -> None:
        try:
            for event in store.subscribe(1, poll_interval=0.05, stop=self.stop):
                self._see(event.position, event.event_id)
                self.polls_that_grew += 1
            # The stop came: whatever was committed before it, the subscription reads too.
            for event in store.read_all(from_position=len(self.seen) + 1):
                self._see(event.position, event.event_id)
        except _Stop:
            return

    def check(self, stored: dict[int, str]) -> None:
        """No gap nor reordering was seen, what was seen is what is stored, it saw the log
        grow many times, and the last look reached the end of the log."""
        assert self.error is None, repr(self.error)
        assert not self.problems, self.problems[:5]
        assert {p: stored.get(p) for p in self.seen} == self.seen
        assert len(self.seen) == len(stored), "the reader's last look missed the end"
        assert self.polls_that_grew >= 10, "the reader did not see the log grow meanwhile"


class _Stop(Exception):
    """A reader saw a gap: what it reads after that means nothing."""


def check_log(store: Store, acks: dict[str, int]) -> list[Any]:
    """Positions 1..head gapless; every acknowledged event stored exactly once at the
    position it was acknowledged at, and nothing stored that was not acknowledged
    (`acks`: every writer's lines, all processes having exited). Returns the events."""
    events = list(store.read_all())
    assert [e.position for e in events] == list(range(1, len(events) + 1)), "a gap"
    by_id = {e.event_id: e.position for e in events}
    assert len(by_id) == len(events), "an event id was stored twice"
    assert {i: by_id.get(i) for i in acks} == acks, "an acknowledged event moved or is lost"
    assert len(events) == len(acks), "events stored that no call acknowledged"
    return events


# -- the writer process ------------------------------------------------------------------

def _main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("name")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--count", type=int)
    parser.add_argument("--default-store", action="store_true")
    parser.add_argument("--go", type=Path)
    args = parser.parse_args()
    store = Store.open(args.url) if args.default_store else Store.open(args.url, projectors=[])
    store.start_writer()  # registration and inline catch-up happen before "ready"
    print("ready", flush=True)
    while args.go is not None and not args.go.exists():  # start together
        time.sleep(0.005)
    lock = threading.Lock()
    deadline = time.monotonic() + args.seconds if args.seconds is not None else None

    def record(events: list[NewEvent], positions: list[int]) -> None:
        lines = "".join(f"ack {e.event_id} {p}\n" for e, p in zip(events, positions,
                                                                   strict=True))
        with lock:
            sys.stdout.write(lines)
            sys.stdout.flush()

    def work(n: int) -> None:
        rng = random.Random(f"{args.name}-{n}")
        game = args.default_store and n % 2 == 0
        i = 0
        while (args.count is None or i < args.count) and (
                deadline is None or time.monotonic() < deadline):
            if game:
                stream = f"character-{character_id(args.name, n)}"
                events = [_character_event(args.name, n, i)]
            else:
                stream = f"load-{rng.randrange(SHARED_STREAMS)}"
                events = [NewEvent(type="Tick", event_id=str(uuid.uuid4()),
                                   data={"p": args.name, "t": n, "i": i, "k": k})
                          for k in range(rng.randint(1, 3))]
            result = store.append(stream, events)
            record(events, result.positions)
            i += 1

    workers = [threading.Thread(target=work, args=(n,)) for n in range(args.threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    store.close()


def _character_event(name: str, thread: int, i: int) -> NewEvent:
    cid = character_id(name, thread)
    if i == 0:
        return NewEvent(type="CharacterCreated", event_id=str(uuid.uuid4()), data={
            "character_id": cid, "campaign_id": CAMPAIGN, "name": cid, "max_hp": 10,
            "current_hp": 10})
    return NewEvent(type="ItemAdded", event_id=str(uuid.uuid4()),
                    data={"item_id": f"item-{i}", "name": f"Trinket {i}"})


if __name__ == "__main__":
    _main()
