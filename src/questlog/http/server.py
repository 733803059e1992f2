"""Running a node: uvicorn in this process, with the store's lifecycle around it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("questlog.http")


def run_server(app: FastAPI, *, host: str = "127.0.0.1", port: int = 8080,
               log_level: str = "info", access_log: bool = False) -> None:
    """Serve `app` until SIGINT/SIGTERM (uvicorn handles the signals and drains requests)."""
    import uvicorn

    # log_config=None: uvicorn's records go through questlog's one logging set-up
    # (observability.logs); the access log is questlog's own (http/observe.py).
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, log_config=None,
                            access_log=access_log, lifespan="off", timeout_graceful_shutdown=10)
    server = uvicorn.Server(config)
    log.info("questlog %s node on http://%s:%d", app.state.role, host, port)
    server.run()
