"""A wake-up when the log moved: what a backend may offer pollers instead of sleeping.

Subscriptions and the async projectors' daemon read the log, and when it had nothing
new they wait before reading again. A backend whose server can announce commits
(PostgreSQL: LISTEN/NOTIFY, sent by every insert into the log) hands them a
`CommitSignal`, and they wait on it: a commit wakes them at once, from any process
on any machine. The wait keeps its timeout, so if the announcements stop (a
dropped listening connection) they simply poll as before. A backend without one
(SQLite) answers None and they poll.
"""

from __future__ import annotations

from typing import Protocol


class CommitSignal(Protocol):
    def seen(self) -> int:
        """How many announcements arrived so far (take it before reading the log)."""
        ...

    def wait(self, seen: int, timeout: float) -> int:
        """Until an announcement arrives after `seen` (or `wake()`), at most `timeout`
        seconds; returns `seen()`."""
        ...

    def wake(self) -> None:
        """Wake every waiter now (a poller that is stopping)."""
        ...
