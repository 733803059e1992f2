"""A read node on a real `litestream restore -f` follower knows its tokens by stat
(`questlog.sqlite.token_memo`) and still never serves an answer older than its file.

The follower rewrites the file in place (same inode, often the same size): only its
mtime and ctime move, which is exactly what the memo watches.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from fastapi.testclient import TestClient

from questlog import NewEvent, Store
from questlog.http import create_app
from questlog.replication.follower import Follower
from questlog.replication.replicator import Replicator
from questlog.sqlite.token_memo import RACY_MARGIN_NS, FileTokenMemo, observe

SETTLE_S = RACY_MARGIN_NS / 1e9 * 2


def _tick(store: Store, i: int) -> int:
    return store.append("campaign-f", [NewEvent(type="Tick", data={"i": i})]).positions[-1]


def test_a_follower_read_node_answers_by_stat_and_never_stale(
        primary: Store, replicator: Replicator, tmp_path: Path) -> None:
    replicator.wait_replicated(_tick(primary, 0))
    follower = Follower(replicator.replica_url, tmp_path / "node").start()
    try:
        with Store.open(follower.path, read_only=True) as node, \
                TestClient(create_app(node, "read")) as client:
            memo = node.backend.token_memo
            assert isinstance(memo, FileTokenMemo)
            url = "/v1/streams/campaign-f"
            etags: set[str] = set()
            for i in range(1, 6):
                before = os.stat(follower.path)
                position = _tick(primary, i)
                replicator.wait_replicated(position)
                deadline = time.monotonic() + 20
                while node.head_position() < position:  # a fresh connection's view
                    assert time.monotonic() < deadline, "the follower did not apply"
                    time.sleep(0.01)
                changed = os.stat(follower.path)
                assert changed.st_ino == before.st_ino             # rewritten in place,
                assert changed.st_ctime_ns != before.st_ctime_ns   # which ctime shows
                assert observe(str(follower.path)) is not None     # no WAL, no journal

                # At once, and again once the memo trusts the file: the new event.
                fresh = client.get(url)
                assert fresh.status_code == 200, fresh.text
                assert fresh.json()["events"][-1]["position"] == position  # never stale
                etag = fresh.headers["etag"]
                assert etag not in etags
                etags.add(etag)
                time.sleep(SETTLE_S)
                client.get(url)                        # records a settled state
                hits = memo.known_hits
                again = client.get(url, headers={"If-None-Match": etag})
                assert again.status_code == 304
                assert memo.known_hits == hits + 1     # no connection for that answer
    finally:
        follower.stop()
