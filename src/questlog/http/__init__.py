"""The HTTP API (FastAPI): `create_app(store, role="write"|"read")` and `run_server`.

Importing this package imports FastAPI; nothing on a non-HTTP path imports it.
"""

from __future__ import annotations

from .app import create_app
from .server import run_server

__all__ = ["create_app", "run_server"]
