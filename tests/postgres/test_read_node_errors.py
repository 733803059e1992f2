"""What a read node on a PostgreSQL server answers when a read fails (http/errors.py):
503 with Retry-After only for what a retry can fix (a recovery conflict, a busy or
unreachable server), the generic 5xx database error for a fault that stays."""

from __future__ import annotations

from fastapi.testclient import TestClient

from questlog import Store
from questlog.http import create_app

from .conftest import admin


def test_a_permanent_fault_on_a_read_node_is_no_retry_later(pg_url: str) -> None:
    with Store.open(pg_url) as primary:
        primary.append("campaign-1", [{"type": "A", "data": {}}])
    with Store.open(pg_url, read_only=True, create=False) as replica:
        client = TestClient(create_app(replica, "read"), raise_server_exceptions=False)
        assert client.get("/events").status_code == 200
        with admin(pg_url) as conn:  # a table gone: no retry brings it back
            conn.execute("DROP TABLE events CASCADE")
        resp = client.get("/events")
        body = resp.json()
        assert resp.status_code == 500 and body["error"] == "database_error", body
        assert "retry-after" not in resp.headers
        assert "events" in body["detail"] and "\n" not in body["detail"]
