"""A one-shot result slot that a producer thread waits on and the writer fills.

Lighter than `concurrent.futures.Future` (one pre-acquired lock instead of a
Condition and a state machine): the writer resolves thousands of these a
second, and every microsecond it spends here is a microsecond of GIL its
producers and its SQL do not get.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Completion(Generic[T]):
    __slots__ = ("_callbacks", "_error", "_lock", "_set", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self._set = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[Completion[T]], None]] | None = None

    def done(self) -> bool:
        return self._set

    def set_result(self, value: T) -> None:
        self._finish(value, None)

    def set_exception(self, error: BaseException) -> None:
        self._finish(None, error)

    def _finish(self, value: Any, error: BaseException | None) -> None:
        if self._set:
            return
        self._value, self._error, self._set = value, error, True
        self._lock.release()
        for callback in self._callbacks or ():
            callback(self)

    def result(self, timeout: float | None = None) -> T:
        """Wait for the writer; return its result or raise its error."""
        if not self._set:
            if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
                raise TimeoutError("the writer did not answer in time")
            self._lock.release()  # let any other waiter through too
        if self._error is not None:
            raise self._error
        value: T = self._value
        return value

    def exception(self) -> BaseException | None:
        return self._error

    def add_done_callback(self, callback: Callable[[Completion[T]], None]) -> None:
        """Call `callback(self)` once done (from the writer's thread, or now if done)."""
        if self._set:
            callback(self)
            return
        if self._callbacks is None:
            self._callbacks = []
        self._callbacks.append(callback)
        if self._set:  # finished while we were registering: make sure it runs once
            self._callbacks.remove(callback)
            callback(self)
