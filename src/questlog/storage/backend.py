"""The backend: one engine's implementation of every port, and how sessions begin.

A backend is built once per store by the composition root (`Store.open`) and
hands each subsystem the narrow port it needs.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from .session import Session


class Backend(Protocol):
    name: str   # "sqlite" | "postgresql"
    url: str    # where the store lives, as the user would write it

    def read(self) -> AbstractContextManager[Session]:
        """A session in one short read transaction."""
        ...

    def capabilities(self) -> dict[str, Any]:
        """What `questlog doctor` prints: driver, server version, extensions, ..."""
        ...

    def dispose(self) -> None: ...
