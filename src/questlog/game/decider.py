"""The unit of work: run a list of commands against folded state, collect events.

Pure: it loads aggregates through a callback and checks content references
through another, so it runs the same in unit tests and inside `GameAPI.apply`.
Every event a command decides is validated against its model and folded into
the working state at once, so later commands of the same response see it.
A command that raises leaves nothing behind (the unit of work is discarded).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import QuestlogError
from .commands import Command, parse_command
from .errors import InvalidCommand, UnknownContentReference, UnknownEntity
from .event_base import GameEvent
from .fold import apply_event
from .refs import ContentRef
from .state import CampaignState, CharacterState, EncounterState

#: load(category, entity_id) -> (state, stream version); version 0 = no stream
Loader = Callable[[str, str], tuple[Any, int]]
#: check(type, index) -> True when an effective content entry exists
ContentCheck = Callable[[str, str], bool]
#: entry(type, index) -> the effective content entry as JSON data, or None
ContentLookup = Callable[[str, str], "dict[str, Any] | None"]
#: open_encounters(campaign_id) -> ids of the campaign's encounters that have not ended
EncounterLookup = Callable[[str], list[str]]


def stream_id(category: str, entity_id: str) -> str:
    return f"{category}-{entity_id}"


@dataclass(frozen=True, slots=True)
class DecidedEvent:
    """An event a command decided on, not yet appended."""

    stream_id: str
    type: str
    data: dict[str, Any]
    schema_version: int
    # The fold takes this as it takes a RecordedEvent:
    stream_version: int
    position: int = 0
    recorded_at: str = ""


@dataclass
class UnitOfWork:
    load: Loader
    content_exists: ContentCheck | None = None
    content_entry: ContentLookup | None = None
    open_encounters: EncounterLookup | None = None
    states: dict[str, Any] = field(default_factory=dict)
    base_versions: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    decided: list[DecidedEvent] = field(default_factory=list)

    # --- loading -----------------------------------------------------------------------
    def _get(self, category: str, entity_id: str) -> Any:
        sid = stream_id(category, entity_id)
        if sid not in self.states:
            state, version = self.load(category, entity_id)
            self.states[sid] = state
            self.base_versions[sid] = version
            self.versions[sid] = version
        return self.states[sid]

    def campaign(self, campaign_id: str, *, must_exist: bool = True) -> CampaignState:
        state: CampaignState = self._get("campaign", campaign_id)
        if must_exist and not state.exists:
            raise UnknownEntity(f"unknown campaign {campaign_id!r}")
        return state

    def character(self, character_id: str, *, must_exist: bool = True) -> CharacterState:
        state: CharacterState = self._get("character", character_id)
        if must_exist and not state.exists:
            raise UnknownEntity(f"unknown character {character_id!r}")
        return state

    def encounter(self, encounter_id: str, *, must_exist: bool = True) -> EncounterState:
        state: EncounterState = self._get("encounter", encounter_id)
        if must_exist and not state.exists:
            raise UnknownEntity(f"unknown encounter {encounter_id!r}")
        return state

    def active_encounter(self, campaign_id: str) -> EncounterState | None:
        """The campaign's encounter in progress, if any (its stream is then checked at
        append like every stream a decision read)."""
        ids = set(self.open_encounters(campaign_id)) if self.open_encounters else set()
        ids.update(sid.split("-", 1)[1] for sid, state in self.states.items()
                   if isinstance(state, EncounterState) and state.campaign_id == campaign_id)
        for encounter_id in sorted(ids):
            state = self.encounter(encounter_id, must_exist=False)
            if state.status == "active" and state.campaign_id == campaign_id:
                return state
        return None

    # --- content -----------------------------------------------------------------------
    def check_ref(self, ref: ContentRef | None, types: Iterable[str], what: str) -> None:
        """Refuse a reference of the wrong type, or to content that does not exist."""
        if ref is None:
            return
        allowed = tuple(types)
        if allowed and ref.type not in allowed:
            raise InvalidCommand(
                f"{what}: reference type {ref.type!r} is not one of {', '.join(allowed)}")
        if ref.homebrew or self.content_exists is None:
            return
        if not self.content_exists(ref.type, ref.index):
            raise UnknownContentReference(
                f"{what}: no content entry {ref.type}/{ref.index} "
                "(mark the reference homebrew for invented things)")

    def entry(self, ref: ContentRef | None) -> dict[str, Any] | None:
        """The content entry a (non-homebrew) reference names, when content is at hand."""
        if ref is None or ref.homebrew or self.content_entry is None:
            return None
        return self.content_entry(ref.type, ref.index)

    # --- emitting ----------------------------------------------------------------------
    def emit(self, category: str, entity_id: str, event: GameEvent) -> None:
        """Record a decided event and fold it into the working state."""
        if event.category != category:
            raise AssertionError(f"{event.event_type} is not a {category} event")
        sid = stream_id(category, entity_id)
        state = self._get(category, entity_id)
        self.versions[sid] += 1
        decided = DecidedEvent(sid, event.event_type, event.payload(), event.schema_version,
                               self.versions[sid])
        apply_event(state, category, decided)
        self.decided.append(decided)

    # --- running -----------------------------------------------------------------------
    def run(self, commands: Sequence[Command | dict[str, Any]]) -> list[DecidedEvent]:
        from .deciders import decide

        parsed: list[Command] = []
        for index, raw in enumerate(commands):   # every payload is checked before any rule
            try:
                parsed.append(parse_command(raw))
            except QuestlogError as exc:
                _name_command(exc, index, None)
                raise
        for index, command in enumerate(parsed):
            try:
                decide(self, command)
            except QuestlogError as exc:
                _name_command(exc, index, command.kind)
                raise
        return self.decided

    def by_stream(self) -> list[tuple[str, list[DecidedEvent], int]]:
        """The decided events grouped per stream, campaign → characters → encounters,
        each with the stream version it was loaded at (the expected version)."""
        order = {"campaign": 0, "character": 1, "encounter": 2}
        groups: dict[str, list[DecidedEvent]] = {}
        for event in self.decided:
            groups.setdefault(event.stream_id, []).append(event)
        ranked = sorted(groups, key=lambda sid: (order[sid.split("-", 1)[0]],
                                                 list(groups).index(sid)))
        return [(sid, groups[sid], self.base_versions[sid]) for sid in ranked]

    def read_only_streams(self) -> list[tuple[str, int]]:
        """Streams the commands loaded (to check rules) but did not write, with the
        version they were read at: appended as empty calls so that a concurrent change
        to anything the response was decided on fails it as a whole."""
        written = {event.stream_id for event in self.decided}
        return sorted((sid, v) for sid, v in self.base_versions.items() if sid not in written)


def _name_command(exc: QuestlogError, index: int, kind: str | None) -> None:
    """Prefix the message with the failing command, so a long AI response is debuggable."""
    if exc.args and isinstance(exc.args[0], str):
        label = f"command {index}" + (f" ({kind})" if kind else "")
        exc.args = (f"{label}: {exc.args[0]}", *exc.args[1:])
