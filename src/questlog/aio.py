"""The asyncio twin: appends and reads for asyncio game servers.

Appends await the writer's completion without blocking the event loop; reads run
in the default executor (SQLite calls block).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from .completion import Completion
from .errors import Backpressure
from .events import ANY, AppendResult, ExpectedVersion, NewEvent, RecordedEvent
from .observability.operation import Operation, append_params
from .planner import make_call
from .writer import AppendRequest

if TYPE_CHECKING:
    from .store import Store


class AsyncStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def append(self, stream_id: str, events: Sequence[NewEvent | dict[str, Any]],
                     expected_version: ExpectedVersion = ANY, *,
                     validate: bool = True) -> AppendResult:
        results = await self.append_many([(stream_id, events, expected_version)],
                                         validate=validate)
        return results[0]

    async def append_many(
        self, calls: Sequence[tuple[str, Sequence[NewEvent | dict[str, Any]], ExpectedVersion]],
        *, validate: bool = True,
    ) -> list[AppendResult]:
        """As Store.append_many (`validate` included), awaiting the commit."""
        with Operation("append", self.store.settings.slow_ms, append_params(calls)):
            return await self._append_many(calls, validate=validate)

    async def _append_many(
        self, calls: Sequence[tuple[str, Sequence[NewEvent | dict[str, Any]], ExpectedVersion]],
        *, validate: bool,
    ) -> list[AppendResult]:
        depth = self.store.settings.max_json_depth
        request = AppendRequest([make_call(s, e, x, validate=validate, max_depth=depth)
                                 for s, e, x in calls])
        loop = asyncio.get_running_loop()
        writer = self.store.ready_writer()
        if writer is None:  # first write: starting the writer syncs projectors (slow)
            writer = await loop.run_in_executor(None, self.store._write_ready)
        try:
            writer.submit(request, timeout=0)  # room in the queue: no thread hop
        except Backpressure:
            # Full: wait for room (then Backpressure) off the event loop.
            await loop.run_in_executor(None, writer.submit, request, None)
        waiter: asyncio.Future[list[AppendResult]] = loop.create_future()

        def transfer(done: Completion[list[AppendResult]]) -> None:
            def settle() -> None:
                if waiter.cancelled():
                    return
                error = done.exception()
                if error is not None:
                    waiter.set_exception(error)
                else:
                    waiter.set_result(done.result())

            loop.call_soon_threadsafe(settle)

        request.future.add_done_callback(transfer)
        return await waiter

    async def read_stream(self, stream_id: str, **kwargs: Any) -> list[RecordedEvent]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: self.store.read_stream(stream_id, **kwargs))

    async def read_all(self, from_position: int = 0, limit: int | None = None,
                       **kwargs: Any) -> list[RecordedEvent]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, lambda: list(self.store.read_all(from_position, limit, **kwargs)))

    async def subscribe(self, from_position: int = 0,
                        poll_interval: float = 0.1) -> AsyncIterator[RecordedEvent]:
        position = from_position
        signal = self.store.backend.commit_signal()  # PostgreSQL: woken by any commit
        loop = asyncio.get_running_loop()
        while True:
            seen = signal.seen() if signal is not None else 0
            events = await self.read_all(position, 1000)
            for event in events:
                position = event.position + 1
                yield event
            if not events:
                if signal is not None:
                    await loop.run_in_executor(None, signal.wait, seen, poll_interval)
                else:
                    await asyncio.sleep(poll_interval)
