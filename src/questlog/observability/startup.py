"""The start-up line of a node: backend, driver, SQLite and sqlite-vec versions, schema
revision (the same facts as `questlog doctor`, from `Store.health()`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger("questlog.startup")


def log_startup(store: Store, role: str) -> None:
    report = store.health()
    vec = report.sqlite_vec
    vec_text = vec.version if vec.loaded and vec.version else f"not loaded ({vec.reason})"
    backend = report.backend or "sqlite"
    log.info("questlog %s node: backend %s, driver %s, SQLite %s, sqlite-vec %s, "
             "schema revision %s", role, backend, report.driver, report.sqlite_version,
             vec_text, report.schema_revision,
             extra={"role": role, "backend": backend, "driver": report.driver,
                    "sqlite_version": report.sqlite_version, "sqlite_vec": vec_text,
                    "schema_revision": report.schema_revision})
