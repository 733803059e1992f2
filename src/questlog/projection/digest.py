"""Digests of read models: SHA-256 over their rows in a canonical order.

Incremental application and a rebuild from the log must give the same digest;
audit replays compare digests recorded earlier. Each table's digest comes from
the backend (`ReadModels.digest`, encoded by `storage.readmodels.digest_rows`).
"""

from __future__ import annotations

import hashlib

from ..storage.readmodels import ReadModels, options_of
from ..storage.session import Session
from .projector import Projector


def projector_digest(readmodels: ReadModels, session: Session, projector: Projector) -> str:
    h = hashlib.sha256(f"{projector.name}:{projector.version}".encode())
    for table in projector.tables:
        if options_of(table).digest:
            h.update(f"{table.name}={readmodels.digest(session, table)};".encode())
    return h.hexdigest()
