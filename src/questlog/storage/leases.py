"""Leases: which node runs an async projector when several nodes share one store.

On a server that several processes (on several machines) write, each of them may
run the async projectors' daemon. Exactly-once needs no lease (a batch moves the
checkpoint only from the position it started at, inside the writer's transaction),
but without one every node would do the same work, `prepare` included (embedding
text is expensive). A backend with several writer processes hands the daemon
`Leases`: it steps a projector only while it holds that projector's lease, which
the server gives to one session at a time and takes back when the session ends —
when its process dies too, so another node takes over. A backend with one writer
process per store (SQLite) has none to give: None, and the daemon runs every one.
"""

from __future__ import annotations

from typing import Protocol


class Leases(Protocol):
    def hold(self, name: str) -> bool:
        """Whether this process holds the lease `name` now (taking it if it is free)."""
        ...

    def close(self) -> None:
        """Give every lease back."""
        ...
