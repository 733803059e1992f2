"""Digests of read models: SHA-256 over their rows in a canonical order.

Incremental application and a rebuild from the log must give the same digest;
audit replays compare digests recorded earlier, and `questlog copy` compares the
digests of a store on two engines. Each table's digest is `storage.digests.
table_digest`: the backend only reads the rows; their canonical form, order and
encoding are decided there, the same for every engine.
"""

from __future__ import annotations

import hashlib

from ..storage.digests import table_digest
from ..storage.readmodels import ReadModels, options_of
from ..storage.session import Session
from .projector import Projector


def projector_digest(readmodels: ReadModels, session: Session, projector: Projector) -> str:
    h = hashlib.sha256(f"{projector.name}:{projector.version}".encode())
    for table in projector.tables:
        if options_of(table).digest:
            h.update(f"{table.name}={table_digest(readmodels, session, table)};".encode())
    return h.hexdigest()
