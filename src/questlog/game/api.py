"""`store.game`: run commands atomically, load aggregates (now or in the past), read models.

One AI response = one `apply`: its commands are decided against the current
state of every stream they touch, and all resulting events go to the log in
ONE `append_many` call carrying each stream's expected version. Event ids are
uuid5 of the correlation id and the event's index in the response, so a retried
response is recognised and answered with the first result instead of applied twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..errors import ContentError
from ..events import NO_STREAM, ExpectedVersion, NewEvent
from .commands import Command
from .decider import DecidedEvent, UnitOfWork, stream_id
from .errors import UnknownEntity
from .loading import CATEGORIES, Loaded, load_state
from .repository import GameRepository
from .snapshots import write_snapshot
from .views import encounter_view, pc_ids

if TYPE_CHECKING:
    from ..store import Store

#: Namespace of the deterministic event ids of game responses.
GAME_NAMESPACE = uuid.UUID("6f1d2a4e-3c55-5d0b-9a3e-7b51c0de9a11")


def event_id_for(correlation_id: str, index: int) -> uuid.UUID:
    return uuid.uuid5(GAME_NAMESPACE, f"{correlation_id}#{index}")


class AppendedStream(BaseModel):
    stream_id: str
    expected_version: int
    stream_version: int
    positions: list[int]
    event_types: list[str]


class ApplyResult(BaseModel):
    correlation_id: str
    events: int
    streams: list[AppendedStream]
    replayed: bool = False   # True: this correlation id was applied before; nothing new


class GameAPI(GameRepository):
    """Commands, aggregates, time travel and read models of the game side."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)

    # --- commands -------------------------------------------------------------------------

    def decide(self, commands: Sequence[Command | dict[str, Any]]) -> list[DecidedEvent]:
        """Validate the commands and return the events they would append (a dry run)."""
        return self._unit().run(commands)

    def apply(self, commands: Sequence[Command | dict[str, Any]], *,
              correlation_id: str | None = None, causation_id: str | None = None,
              actor: str = "gm-ai", source: str = "ai_response") -> ApplyResult:
        """Run the commands and append every event they decide in one atomic call.

        Raises a DomainError (and appends nothing) when any command is rejected, and
        WrongExpectedVersion when a touched stream changed meanwhile: retrying with the
        same correlation id then re-decides against the new state.
        """
        correlation_id = correlation_id or str(uuid.uuid4())
        earlier = self._already_applied(correlation_id)
        if earlier is not None:
            return earlier
        uow = self._unit()
        uow.run(commands)
        return self._commit(uow, correlation_id, causation_id=causation_id, actor=actor,
                            source=source)

    def _commit(self, uow: UnitOfWork, correlation_id: str, *,
                causation_id: str | None = None, actor: str = "gm-ai",
                source: str = "ai_response") -> ApplyResult:
        """Append what `uow` decided in one atomic call, every loaded stream checked."""
        groups = uow.by_stream()
        metadata = {"correlation_id": correlation_id, "actor": actor, "source": source}
        if causation_id is not None:
            metadata["causation_id"] = causation_id
        calls: list[tuple[str, Sequence[NewEvent | dict[str, Any]], ExpectedVersion]] = []
        index = 0
        for sid, events, expected in groups:
            batch: list[NewEvent | dict[str, Any]] = []
            for event in events:
                batch.append(NewEvent(type=event.type, data=event.data, metadata=metadata,
                                      event_id=event_id_for(correlation_id, index),
                                      schema_version=event.schema_version))
                index += 1
            calls.append((sid, batch, expected if expected else NO_STREAM))
        if not calls:
            return ApplyResult(correlation_id=correlation_id, events=0, streams=[])
        calls += [(sid, [], version if version else NO_STREAM)
                  for sid, version in uow.read_only_streams()]
        # The decider validated every event against its model already.
        results = self.store.append_many(calls, validate=False)
        streams = [
            AppendedStream(stream_id=sid, expected_version=expected,
                           stream_version=result.stream_version, positions=result.positions,
                           event_types=[e.type for e in events])
            for (sid, events, expected), result in zip(groups, results, strict=False)]
        self._snapshot_crossed(streams)
        return ApplyResult(correlation_id=correlation_id, events=index, streams=streams)

    def _unit(self) -> UnitOfWork:
        cache: dict[tuple[str, str], bool] = {}

        def content_exists(type_: str, index: str) -> bool:
            if (type_, index) not in cache:
                try:
                    self.store.content.get(type_, index)
                    cache[type_, index] = True
                except ContentError:   # ContentNotFound, UnknownContentType
                    cache[type_, index] = False
            return cache[type_, index]

        def content_entry(type_: str, index: str) -> dict[str, Any] | None:
            try:
                entry: dict[str, Any] = self.store.content.get(type_, index).model_dump(
                    mode="json", by_alias=True)
            except ContentError:
                return None
            return entry

        def open_encounters(campaign_id: str) -> list[str]:
            # Started and not ended, per the log; the fold of each then has the last word.
            # The log's type index finds both kinds of event (one per encounter each).
            with self.store.read() as conn:
                events = self.store.backend.log.read_all(
                    conn, types=("EncounterStarted", "EncounterEnded"),
                    categories=("encounter",))
            started = {e.stream_id for e in events if e.type == "EncounterStarted"
                       and e.data.get("campaign_id") == campaign_id}
            ended = {e.stream_id for e in events if e.type == "EncounterEnded"}
            return [sid.split("-", 1)[1] for sid in sorted(started - ended)]

        def load(category: str, entity_id: str) -> tuple[Any, int]:
            loaded = self.load(category, entity_id)
            if loaded.tail >= self.store.settings.snapshot_every:
                write_snapshot(self.store, category, f"{category}-{entity_id}", loaded.state)
            return loaded.state, loaded.version

        return UnitOfWork(load, content_exists, content_entry, open_encounters)

    def _already_applied(self, correlation_id: str) -> ApplyResult | None:
        with self.store.read() as conn:
            first = self.store.backend.log.existing_events(conn, [str(event_id_for(correlation_id, 0))])
            if not first:
                return None
            found: list[Any] = []
            chunk = 256
            while True:
                ids = [str(event_id_for(correlation_id, i))
                       for i in range(len(found), len(found) + chunk)]
                got = self.store.backend.log.existing_events(conn, ids)
                found.extend(got[i] for i in ids if i in got)
                if len(got) < chunk:
                    break
        streams: dict[str, AppendedStream] = {}
        for key in found:
            s = streams.setdefault(key.stream_id, AppendedStream(
                stream_id=key.stream_id, expected_version=key.stream_version - 1,
                stream_version=key.stream_version, positions=[], event_types=[]))
            s.positions.append(key.position)
            s.event_types.append(key.type)
            s.stream_version = key.stream_version
        return ApplyResult(correlation_id=correlation_id, events=len(found),
                           streams=list(streams.values()), replayed=True)

    def _snapshot_crossed(self, streams: list[AppendedStream]) -> None:
        """Snapshot every stream whose version crossed a multiple of `snapshot_every`."""
        every = self.store.settings.snapshot_every
        for s in streams:
            if s.stream_version // every > s.expected_version // every:
                category, entity_id = s.stream_id.split("-", 1)
                write_snapshot(self.store, category, s.stream_id,
                               self.load(category, entity_id).state)

    # --- aggregates and time travel --------------------------------------------------------

    def load(self, category: str, entity_id: str, *, position: int | None = None,
             version: int | None = None, timestamp: str | None = None,
             use_snapshots: bool = True) -> Loaded:
        return load_state(self.store, category, entity_id, position=position, version=version,
                          timestamp=timestamp, use_snapshots=use_snapshots)

    def state(self, category: str, entity_id: str, *, position: int | None = None,
              version: int | None = None, timestamp: str | None = None) -> Any:
        """The aggregate's state (CampaignState, CharacterState or EncounterState).

        An encounter is shown as every view shows it (`views.encounter_view`): its player
        characters' HP and conditions from their own streams at the same point.
        A stream with no events at all is `UnknownEntity`; one that began after the
        point asked for answers a state with `exists` False."""
        loaded = self.load(category, entity_id, position=position, version=version,
                           timestamp=timestamp)
        sid = stream_id(category, entity_id)
        if loaded.version == 0 and self.store.stream_version(sid) == 0:
            raise UnknownEntity(f"unknown {category} {entity_id!r}")
        state = loaded.state
        if category != "encounter":
            return state
        if version is not None:   # the characters as they were at that encounter version
            position, timestamp = state.position, None
        characters = {cid: self.load("character", cid, position=position,
                                     timestamp=timestamp).state for cid in pc_ids(state)}
        return encounter_view(state, characters)

    def snapshot(self, category: str, entity_id: str) -> int:
        """Take a snapshot now; returns the stream version it holds (UnknownEntity for a
        stream with no events)."""
        loaded = self.load(category, entity_id)
        if not loaded.version:
            raise UnknownEntity(f"unknown {category} {entity_id!r}")
        write_snapshot(self.store, category, stream_id(category, entity_id), loaded.state)
        return loaded.version


__all__ = ["CATEGORIES", "ApplyResult", "AppendedStream", "GameAPI", "event_id_for"]
