"""End to end on one PostgreSQL database: 4 writer processes x 8 threads append for
`SECONDS`, two readers follow the log meanwhile, then every acknowledged event is
checked against the stored log, `questlog verify` runs, and the inline game models the
writers kept under that concurrency are compared with a rebuild from the log.

Two of the writers open the store as users do (`Store.open(url)`: the shipped
projectors, whose inline game models run in their batches on their character
streams); the other two run the log alone. Every process appends `Tick` events on the
same shared streams too (pg_load.py says what each thread writes).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pg_load
import pytest

from questlog import Store

PROCESSES = 4
THREADS = 8
SECONDS = 10.0  # of appending; the whole test stays under ~45 s on a loaded 2-core machine
QUESTLOG = str(Path(sys.executable).parent / "questlog")


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QUESTLOG, "--db", url, *args], capture_output=True, text=True,
                          timeout=120, check=False)


def _inline_digests(store: Store) -> dict[str, str]:
    """What `questlog projections hash` prints for the inline models, as they are."""
    inline = [p.name for p in store.projections.projectors if p.mode == "inline"]
    return store.projections.hashes(inline)


@pytest.mark.timeout(300)
def test_4_processes_x_8_threads_append_while_readers_follow(pg_url: str,
                                                             tmp_path: Path) -> None:
    Store.open(pg_url, projectors=[]).close()  # the log exists before the readers start
    readers = [pg_load.LogPoller(pg_url), pg_load.LogPoller(pg_url, subscribe=True)]
    go = tmp_path / "go"
    outputs = [(tmp_path / f"writer-{n}.out").open("w+") for n in range(PROCESSES)]
    writers = [pg_load.spawn_writer(pg_url, f"w{n}", threads=THREADS, seconds=SECONDS,
                                    default_store=n % 2 == 0, go=go, stdout=outputs[n])
               for n in range(PROCESSES)]
    try:
        for t in readers:
            t.start()
        for w, out in zip(writers, outputs, strict=True):  # each has opened its store
            while not Path(out.name).read_text().startswith("ready"):
                assert w.poll() is None, w.communicate()[1]
                time.sleep(0.05)
        go.touch()
        for w in writers:
            _out, err = w.communicate(timeout=SECONDS + 120)
            assert w.returncode == 0, err
    finally:
        for t in readers:
            t.stop.set()
        for t in readers:
            t.join(timeout=60)
        for w in writers:
            if w.poll() is None:
                w.kill()
                w.wait()

    acks: dict[str, int] = {}
    for out in outputs:
        out.seek(0)
        mine = pg_load.acknowledged(out)
        assert len(mine) > 100, f"{out.name}: only {len(mine)} events acknowledged"
        assert not acks.keys() & mine.keys()
        acks.update(mine)
        out.close()
    with Store.open(pg_url, projectors=[]) as store:
        events = pg_load.check_log(store, acks)
        stored = {e.position: e.event_id for e in events}
        for t in readers:
            t.check(stored)
        items = {e.stream_id: 0 for e in events if e.type == "CharacterCreated"}
        for e in events:
            if e.type == "ItemAdded":
                items[e.stream_id] += 1
    game_threads = len(range(0, THREADS, 2)) * len(range(0, PROCESSES, 2))
    assert len(items) == game_threads, "a character per even thread of the default stores"

    done = _cli(pg_url, "verify")
    assert done.returncode == 0, done.stdout + done.stderr
    # The inline models that two processes' batches kept under the load hold every item,
    # and equal a rebuild of them from the log.
    with Store.open(pg_url) as store:
        for stream, count in items.items():
            inventory = store.game.inventory(stream.removeprefix("character-"))
            assert len(inventory) == count, stream
        before = _inline_digests(store)
        assert {"game_inventory", "game_party_sheet"} <= before.keys()
        store.projections.rebuild(sorted(before))
        assert _inline_digests(store) == before
