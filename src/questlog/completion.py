"""A one-shot result slot that a producer thread waits on and the writer fills.

Lighter than `concurrent.futures.Future` (one pre-acquired lock instead of a
Condition and a state machine): the writer resolves thousands of these a
second, and every microsecond it spends here is a microsecond of GIL its
producers and its SQL do not get.

`resolve_all` wakes a batch's blocked waiters as a relay: the writer wakes the
first, and each waiter, once it runs, wakes the next. Waking them all at once
would have every one of them queue for the GIL together, and the writer, whose
next statement is what everybody waits for, would queue behind all of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# Serialises the relay hand-over with a waiter that gives up (a signal interrupting the
# main thread's wait), so that a wake-up can never be lost between the two.
_RELAY = threading.Lock()


class Completion(Generic[T]):
    __slots__ = ("_abandoned", "_blocked", "_callbacks", "_error", "_lock", "_next", "_set",
                 "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self._set = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[Completion[T]], None]] | None = None
        self._blocked = False  # a waiter is (about to be) blocked with no timeout
        self._abandoned = False  # ...and was interrupted before its wake-up came
        self._next: Completion[Any] | None = None  # the waiter it wakes, in a relay

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
            if timeout is None:
                self._wait()
            elif not self._lock.acquire(timeout=timeout):
                raise TimeoutError("the writer did not answer in time")
            self._lock.release()  # let any other waiter through too
        if self._error is not None:
            raise self._error
        value: T = self._value
        return value

    def _wait(self) -> None:
        self._blocked = True
        try:
            self._lock.acquire()
        except BaseException:
            # Interrupted (a signal in the main thread): pass on a wake-up that already
            # came, or mark this waiter so that the one that comes skips it.
            with _RELAY:
                woken = self._lock.acquire(blocking=False)
                if not woken:
                    self._abandoned = True
            if woken:
                self._lock.release()
                self._wake_next()
            raise
        self._wake_next()

    def _wake_next(self) -> None:
        nxt, self._next = self._next, None
        while nxt is not None:
            with _RELAY:
                nxt._lock.release()
                if not nxt._abandoned:
                    return
            following = nxt._next
            nxt._next = None
            nxt = following

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


def resolve_all(outcomes: Iterable[tuple[Completion[Any], bool, Any]]) -> None:
    """Resolve (completion, ok, result-or-error) triples; blocked waiters wake as a relay."""
    relay: list[Completion[Any]] = []
    for completion, ok, value in outcomes:
        if completion._set:
            continue
        if completion._blocked and not completion._callbacks:
            # Done now (a late reader returns at once); its lock is released by the relay.
            if ok:
                completion._value = value
            else:
                completion._error = value
            completion._set = True
            if relay:
                relay[-1]._next = completion
            relay.append(completion)
        elif ok:
            completion.set_result(value)
        else:
            completion.set_exception(value)
    if relay:
        first = relay[0]
        with _RELAY:
            first._lock.release()
            if not first._abandoned:
                return
        first._wake_next()
