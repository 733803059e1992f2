"""Hypothesis drives a store like a game server would — appends with right and wrong
expected versions, retried and conflicting event ids, multi-stream calls, inline and
async projections, rebuilds and reopenings — against a plain in-Python model of the
log, and after every step the store and the model must agree."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any

import contract_projectors as cp
from contract_backends import BackendUnderTest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from questlog import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    DuplicateEventId,
    NewEvent,
    Store,
    WrongExpectedVersion,
)
from questlog.settings import Settings

# Bounded so the contract suite stays well inside 90 s here; CI may look further.
IN_CI = os.environ.get("CI") == "true"
MACHINE_SETTINGS = settings(max_examples=30 if IN_CI else 12,
                            stateful_step_count=50 if IN_CI else 40, deadline=None,
                            suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.filter_too_much])

STREAMS = st.sampled_from(["alpha-1", "alpha-2", "beta-1", "beta-2", "gamma-x"])
TYPES = st.sampled_from(["Opened", "Moved", "Said"])
# Mostly calls that pass, so the log grows; every kind of refusal still comes up.
EXPECTATIONS = st.sampled_from(["any", "any", "right", "right", "no_stream", "stream_exists",
                                "behind", "ahead"])
PAYLOADS = st.lists(st.tuples(TYPES, st.integers(-5, 5)), min_size=1, max_size=3)


@dataclass(frozen=True)
class ModelEvent:
    position: int
    event_id: str
    stream_id: str
    stream_version: int
    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Call:
    """A successful single-stream call: what a client would send again on a timeout."""

    stream_id: str
    events: tuple[NewEvent, ...]
    result: AppendResult


class LogMachine(RuleBasedStateMachine):
    backend: BackendUnderTest  # set per backend by the test below

    calls = Bundle("calls")

    def __init__(self) -> None:
        super().__init__()
        self.location = self.backend.fresh()
        self.settings = Settings(projection_batch_size=7, projection_rebuild_batch_size=5)
        self.log: list[ModelEvent] = []
        self.async_position = 0  # the async projector moves only when told to here
        self.generation = 1
        self.store = self._open()

    def _open(self) -> Store:
        self.projectors = cp.both()
        for p in self.projectors:
            p.generation = self.generation
        store = self.location.open_store(projectors=self.projectors, settings=self.settings)
        # Start the writer as any first write would: it registers the projectors and
        # catches the inline ones up.
        store.write(lambda _session: None)
        return store

    def teardown(self) -> None:
        self.store.close()

    # -- the model -------------------------------------------------------------------------

    def version(self, stream_id: str) -> int:
        return sum(1 for e in self.log if e.stream_id == stream_id)

    def expected_for(self, how: str, current: int) -> Any:
        return {"any": ANY, "no_stream": NO_STREAM, "stream_exists": STREAM_EXISTS,
                "right": current, "behind": max(current - 1, 0) if current else 1,
                "ahead": current + 2}[how]

    @staticmethod
    def accepts(expected: Any, current: int) -> bool:
        if expected == ANY:
            return True
        if expected == NO_STREAM:
            return current == 0
        if expected == STREAM_EXISTS:
            return current > 0
        return bool(expected == current)

    def record(self, stream_id: str, events: list[NewEvent]) -> AppendResult:
        start = self.version(stream_id)
        positions = []
        for offset, e in enumerate(events):
            position = len(self.log) + 1
            self.log.append(ModelEvent(position, str(e.event_id), stream_id, start + offset + 1,
                                       e.type, e.data))
            positions.append(position)
        return AppendResult(positions, start + len(events))

    @staticmethod
    def new_events(payloads: list[tuple[str, int]]) -> list[NewEvent]:
        return [NewEvent(type=t, data={"n": n}, event_id=uuid.uuid4()) for t, n in payloads]

    # -- rules -----------------------------------------------------------------------------

    @rule(target=calls, stream=STREAMS, payloads=PAYLOADS, how=EXPECTATIONS)
    def append(self, stream: str, payloads: list[tuple[str, int]], how: str) -> Any:
        events = self.new_events(payloads)
        current = self.version(stream)
        expected = self.expected_for(how, current)
        if not self.accepts(expected, current):
            try:
                self.store.append(stream, events, expected_version=expected)
            except WrongExpectedVersion as exc:
                assert (exc.stream_id, exc.expected, exc.actual) == (stream, expected, current)
            else:
                raise AssertionError(f"{stream} at {current} accepted expected {expected}")
            return multiple()  # nothing to retry
        result = self.store.append(stream, events, expected_version=expected)
        assert result == self.record(stream, events)
        return Call(stream, tuple(events), result)

    @rule(call=calls)
    def retry(self, call: Call) -> None:
        """The same call again (a client retrying after a timeout): the first result."""
        head = len(self.log)
        assert self.store.append(call.stream_id, list(call.events)) == call.result
        assert self.store.head_position() == head

    @rule(call=calls, stream=STREAMS)
    def conflict(self, call: Call, stream: str) -> None:
        """A used id with other content (here: another payload or stream) is refused."""
        first = call.events[0]
        if stream == call.stream_id:
            other = NewEvent(type=first.type, data={"n": 99}, event_id=first.event_id)
        else:
            other = NewEvent(type=first.type, data=first.data, event_id=first.event_id)
        try:
            self.store.append(stream, [other])
        except DuplicateEventId:
            pass
        else:
            raise AssertionError("an event id was stored twice with different content")

    @rule(parts=st.lists(st.tuples(STREAMS, PAYLOADS, EXPECTATIONS), min_size=1, max_size=3))
    def append_many(self, parts: list[tuple[str, list[tuple[str, int]], str]]) -> None:
        calls = []
        versions: dict[str, int] = {}
        failing: tuple[str, Any, int] | None = None
        for stream, payloads, how in parts:
            current = versions.get(stream, self.version(stream))
            expected = self.expected_for(how, current)
            events = self.new_events(payloads)
            calls.append((stream, events, expected))
            if failing is None and not self.accepts(expected, current):
                failing = (stream, expected, current)
            versions[stream] = current + len(events)
        if failing is not None:
            try:
                self.store.append_many(calls)
            except WrongExpectedVersion as exc:
                assert (exc.stream_id, exc.expected, exc.actual) == failing
            else:
                raise AssertionError(f"append_many accepted {failing}")
            return
        results = self.store.append_many(calls)
        assert results == [self.record(stream, events) for stream, events, _ in calls]

    @rule(stream=STREAMS, from_version=st.none() | st.integers(1, 8), backwards=st.booleans(),
          limit=st.none() | st.integers(0, 4))
    def read_stream(self, stream: str, from_version: int | None, backwards: bool,
                    limit: int | None) -> None:
        events = [e for e in self.log if e.stream_id == stream]
        if backwards:
            events = [e for e in reversed(events)
                      if from_version is None or e.stream_version <= from_version]
        else:
            events = [e for e in events if from_version is None or e.stream_version >= from_version]
        got = self.store.read_stream(stream, from_version=from_version, backwards=backwards,
                                     limit=limit)
        assert [e.event_id for e in got] == [e.event_id for e in events[:limit]]

    @rule(from_position=st.integers(0, 30), limit=st.none() | st.integers(0, 5),
          types=st.none() | st.lists(TYPES, min_size=1, max_size=2),
          categories=st.none() | st.lists(st.sampled_from(["alpha", "beta", "gamma"]),
                                          min_size=1, max_size=2))
    def read_all(self, from_position: int, limit: int | None, types: list[str] | None,
                 categories: list[str] | None) -> None:
        wanted = [e.event_id for e in self.log if e.position >= from_position
                  and (types is None or e.type in types)
                  and (categories is None or e.stream_id.split("-")[0] in categories)]
        got = self.store.read_all(from_position, limit, types=types, categories=categories,
                                  batch_size=3)
        assert [e.event_id for e in got] == wanted[:limit]

    @rule()
    def catch_up_async(self) -> None:
        self.store.projections.catch_up(["contract_async"])
        self.async_position = len(self.log)

    @rule()
    def rebuild(self) -> None:
        """A rebuild from scratch swaps in the same models (new rows, same digests)."""
        self.store.projections.catch_up(["contract_async"])
        before = self.store.projections.hashes()
        self.generation += 1
        for p in self.projectors:
            p.generation = self.generation
        self.store.projections.rebuild()
        self.async_position = len(self.log)
        assert self.store.projections.hashes() == before
        for p in self.projectors:
            rows = cp.read_rows(self.store, p)
            assert {r[4] for r in rows} == ({self.generation} if rows else set())

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = self._open()

    # -- after every step ------------------------------------------------------------------

    @invariant()
    def the_log_agrees(self) -> None:
        assert self.store.head_position() == len(self.log)
        stored = [ModelEvent(e.position, e.event_id, e.stream_id, e.stream_version, e.type,
                             e.data) for e in self.store.read_all()]
        assert stored == self.log
        for stream in {e.stream_id for e in self.log}:
            assert self.store.stream_version(stream) == self.version(stream)
            assert [e.event_id for e in self.store.read_stream(stream)] == [
                e.event_id for e in self.log if e.stream_id == stream]

    @invariant()
    def the_models_agree(self) -> None:
        positions = {row["name"]: row["position"] for row in self.store.projections.status()}
        assert positions["contract_inline"] == len(self.log)  # it commits with the appends
        assert cp.read_model(self.store, self.projectors[0]) == cp.fold(self.log)
        assert positions["contract_async"] == self.async_position
        assert cp.read_model(self.store, self.projectors[1]) == cp.fold(
            e for e in self.log if e.position <= self.async_position)


def test_the_store_agrees_with_a_model_of_the_log(backend: BackendUnderTest) -> None:
    machine = type(f"LogMachineOn{backend.name.title()}", (LogMachine,), {"backend": backend})
    run_state_machine_as_test(machine, settings=MACHINE_SETTINGS)
