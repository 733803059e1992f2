"""Completions: results and errors reach every kind of waiter, relay wake-ups are never lost."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import pytest

from questlog.completion import Completion, resolve_all


def wait_blocked(completions: list[Completion[Any]], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(c._blocked for c in completions):
        assert time.monotonic() < deadline, "waiters never blocked"
        time.sleep(0.001)


def test_relay_wakes_every_blocked_waiter_with_its_own_outcome() -> None:
    completions: list[Completion[int]] = [Completion() for _ in range(12)]
    got: dict[int, object] = {}

    def waiter(i: int) -> None:
        try:
            got[i] = completions[i].result()
        except ValueError as exc:
            got[i] = str(exc)

    threads = [threading.Thread(target=waiter, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    wait_blocked(completions)
    resolve_all([(c, i % 3 != 0, i if i % 3 else ValueError(f"bad {i}"))
                 for i, c in enumerate(completions)])
    for t in threads:
        t.join(5)
        assert not t.is_alive()
    assert got == {i: (i if i % 3 else f"bad {i}") for i in range(12)}


def test_callbacks_timed_waiters_and_late_readers_are_resolved_too() -> None:
    with_callback: Completion[str] = Completion()
    seen: list[str] = []
    with_callback.add_done_callback(lambda c: seen.append(c.result()))
    timed: Completion[str] = Completion()
    timed_result: list[str] = []
    t = threading.Thread(target=lambda: timed_result.append(timed.result(timeout=5)))
    t.start()
    time.sleep(0.05)
    late: Completion[str] = Completion()
    resolve_all([(with_callback, True, "cb"), (timed, True, "timed"), (late, True, "late")])
    t.join(5)
    assert seen == ["cb"] and timed_result == ["timed"] and late.result() == "late"
    already: Completion[str] = Completion()
    already.set_result("first")
    resolve_all([(already, True, "second")])  # a completion is resolved once
    assert already.result() == "first"
    with pytest.raises(TimeoutError):
        Completion[int]().result(timeout=0.01)


class Interrupted(Exception):
    pass


def test_an_interrupted_waiter_does_not_break_the_relay() -> None:
    """A signal can interrupt the main thread's wait: the waiters after it in a relay must
    still wake."""
    first: Completion[int] = Completion()
    second: Completion[int] = Completion()
    woke: list[int] = []
    t = threading.Thread(target=lambda: woke.append(second.result()))
    t.start()

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted()

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(Interrupted):
            first.result()  # blocks in the main thread until the alarm
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    wait_blocked([first, second])
    resolve_all([(first, True, 1), (second, True, 2)])
    t.join(5)
    assert woke == [2]
    assert first.result() == 1  # a later read still gets the result
