"""Several nodes on one store: each async projector runs on exactly one node at a time
(a session-level advisory lock as its lease), and another node takes over when the
holder is killed (SIGKILL: no goodbye, the server ends its session)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import sqlalchemy as sa

from questlog import NewEvent, Store

# A node: one process with the probe projector's daemon running until it is killed.
NODE = """
import sys, time
from questlog import Store
from questlog.projection.projector import Projector
from questlog.storage.readmodels import declare, integer, text

url, node = sys.argv[1], sys.argv[2]
TABLE = declare("rm_lease_probe", text("stream_id", primary_key=True), text("node"),
                integer("position"))

class Probe(Projector):
    name = "lease_probe"
    version = 1
    mode = "async"
    tables = (TABLE,)

    def apply(self, ctx, events):
        ctx.session.executemany(ctx.upsert("rm_lease_probe"), [
            {"stream_id": e.stream_id, "node": node, "position": e.position} for e in events])

store = Store.open(url, projectors=[Probe()])
store.writer  # registers the projector (table, checkpoint)
store.projections.start()
print("ready", flush=True)
time.sleep(600)
"""

PROBE = sa.table("rm_lease_probe", sa.column("stream_id"), sa.column("node"),
                 sa.column("position"))


def start_node(url: str, name: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", NODE, url, name], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.stderr.read() if proc.stderr else line
    return proc


def applied_by(store: Store) -> dict[int, str]:
    """Position -> the node whose daemon applied it (empty before the table exists)."""
    with store.read() as session:
        if not store.readmodels.exists(session, "rm_lease_probe"):
            return {}
        rows = session.execute(sa.select(PROBE.c.position, PROBE.c.node)).fetchall()
    return {int(p): str(n) for p, n in rows}


def wait_until_applied(store: Store, positions: list[int], timeout: float = 60) -> dict[int, str]:
    deadline = time.monotonic() + timeout
    while True:
        seen = applied_by(store)
        if all(p in seen for p in positions) or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def append(store: Store, first: int, count: int) -> list[int]:
    return [store.append(f"s-{n}", [NewEvent(type="Tick")]).positions[0]
            for n in range(first, first + count)]


def test_one_node_runs_an_async_projector_and_another_takes_over_when_it_dies(
        pg_url: str) -> None:
    nodes: list[subprocess.Popen[Any]] = []
    try:
        with Store.open(pg_url, projectors=[]) as store:
            nodes.append(start_node(pg_url, "a"))
            first = append(store, 0, 20)
            seen = wait_until_applied(store, first)
            assert {seen.get(p) for p in first} == {"a"}, "node a alone applied them"
            nodes.append(start_node(pg_url, "b"))  # b's daemon runs, without the lease
            second = append(store, 20, 20)
            seen = wait_until_applied(store, second)
            assert {seen.get(p) for p in second} == {"a"}, "b stepped a leased projector"
            os.kill(nodes[0].pid, signal.SIGKILL)
            nodes[0].wait(timeout=30)
            third = append(store, 40, 20)
            seen = wait_until_applied(store, third)
            assert {seen.get(p) for p in third} == {"b"}, "b did not take over"
            assert sorted(seen) == first + second + third  # each event applied once
    finally:
        for proc in nodes:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)
