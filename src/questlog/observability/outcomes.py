"""How an outcome is named in metric labels: `ok`, or the error's class name in
snake_case (`wrong_expected_version`, `backpressure`, ...): a small, fixed set."""

from __future__ import annotations

import re

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_names: dict[type[BaseException], str] = {}


def outcome_of(error: BaseException | None) -> str:
    if error is None:
        return "ok"
    kind = type(error)
    name = _names.get(kind)
    if name is None:
        name = _names[kind] = _CAMEL.sub("_", kind.__name__).lower()
    return name
