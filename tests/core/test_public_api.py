"""`questlog.__all__` is the public Python API (docs/compatibility.md): each name resolves,
none is listed twice, and the stable surface does not lose a name silently."""

from __future__ import annotations

import questlog

# Removing one of these is a breaking change: deprecate first (docs/compatibility.md).
STABLE = {"Store", "NewEvent", "RecordedEvent", "AppendResult", "ANY", "NO_STREAM",
          "STREAM_EXISTS", "QuestlogError", "WrongExpectedVersion", "Backpressure",
          "Settings", "load_settings"}


def test_every_public_name_resolves_once() -> None:
    assert len(questlog.__all__) == len(set(questlog.__all__))
    for name in questlog.__all__:
        assert getattr(questlog, name) is not None, name
    assert STABLE <= set(questlog.__all__)


def test_the_package_docstring_states_the_stability_rule() -> None:
    doc = questlog.__doc__ or ""
    assert "__all__" in doc and "docs/compatibility.md" in doc
