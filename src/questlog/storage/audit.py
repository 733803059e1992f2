"""The log's audit as plain Python: what `verify` checks on rows any engine read.

An engine's `LogVerifier` reads the events in position order (in batches) and the
`streams` table, and feeds them here; the hash chain, gapless positions, per-stream
versions, categories, JSON and the streams table are checked the same way on every
engine. Only the engine's own integrity check (and how it names damage) is its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..events import GENESIS_HASH, event_digest
from .log import VerifyReport


class LogAudit:
    """Feed it rows of (position, event_id, stream_id, stream_version, category, type,
    schema_version, data, metadata, recorded_at, hash) in position order."""

    def __init__(self, max_problems: int = 20) -> None:
        self.max_problems = max_problems
        self.problems: list[str] = []
        self.first_bad: int | None = None
        self.count = 0
        self.after = 0   # the last position seen
        self._prev_hash = GENESIS_HASH
        self._expected = 1
        self.versions: dict[str, int] = {}
        self.last_position: dict[str, int] = {}

    def fault(self, position: int | None, message: str) -> None:
        if position is not None and (self.first_bad is None or position < self.first_bad):
            self.first_bad = position
        if len(self.problems) < self.max_problems:
            self.problems.append(message)

    def rows(self, rows: Iterable[Sequence[Any]]) -> None:
        fault, versions, last_pos = self.fault, self.versions, self.last_position
        for (pos, event_id, stream_id, version, category, type_, schema_version, data, metadata,
             recorded_at, stored_hash) in rows:
            self.count += 1
            if pos != self._expected:
                fault(self._expected, f"position gap: expected {self._expected}, found {pos}")
            self._expected = pos + 1
            want_version = versions.get(stream_id, 0) + 1
            if version != want_version:
                fault(pos, f"position {pos}: stream {stream_id!r} version {version}, "
                           f"expected {want_version}")
            versions[stream_id] = version
            last_pos[stream_id] = pos
            if category != stream_id.split("-", 1)[0]:
                fault(pos, f"position {pos}: category {category!r} does not match stream id")
            for label, text in (("data", data), ("metadata", metadata)):
                try:
                    json.loads(text)
                except (TypeError, ValueError):
                    fault(pos, f"position {pos}: {label} is not valid JSON")
            digest = event_digest(self._prev_hash, pos, event_id, stream_id, version, type_,
                                  schema_version, data, metadata, recorded_at)
            if digest != stored_hash:
                fault(pos, f"position {pos}: hash mismatch (event altered, or chain broken)")
            self._prev_hash = stored_hash
            self.after = pos

    def streams(self, stored: Mapping[str, tuple[int, int]]) -> None:
        """The streams table, as {stream_id: (version, last_position)}."""
        for sid, version in self.versions.items():
            if stored.get(sid) != (version, self.last_position[sid]):
                self.fault(self.last_position[sid],
                           f"streams table disagrees with the log for {sid!r}: "
                           f"{stored.get(sid)} vs {(version, self.last_position[sid])}")
        for sid in stored.keys() - self.versions.keys():
            self.fault(None, f"streams table lists {sid!r}, which has no events")

    def streams_as_logged(self) -> dict[str, tuple[int, int]]:
        """What the streams table should hold (used when it cannot be read)."""
        return {sid: (v, self.last_position[sid]) for sid, v in self.versions.items()}

    def report(self, integrity: str) -> VerifyReport:
        return VerifyReport(not self.problems, self.count, len(self.versions), self.first_bad,
                            self.problems, integrity)
