"""Whether this process records metrics (on unless switched off: benchmarks/append.py
compares both to measure what recording costs)."""

from __future__ import annotations

_enabled = True


def enabled() -> bool:
    return _enabled


def set_enabled(on: bool) -> None:
    global _enabled
    _enabled = on
