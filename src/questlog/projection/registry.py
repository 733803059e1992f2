"""Finds projectors: every concrete Projector subclass in the `questlog.projections` package.

No hand-kept list: adding a module under projections/ registers its projectors.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from ..errors import UnknownProjector
from .projector import Projector

PACKAGE = "questlog.projections"


def discover(package: str = PACKAGE) -> list[Projector]:
    """One instance of every projector in the package, sorted by name."""
    pkg = importlib.import_module(package)
    found: dict[str, Projector] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if (issubclass(obj, Projector) and obj.__module__ == module.__name__
                    and not inspect.isabstract(obj) and getattr(obj, "name", None)):
                if obj.name in found:
                    raise UnknownProjector(f"two projectors are named {obj.name!r}")
                found[obj.name] = obj()
    return [found[n] for n in sorted(found)]


def select(projectors: list[Projector], names: list[str] | None) -> list[Projector]:
    if not names:
        return list(projectors)
    by_name = {p.name: p for p in projectors}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise UnknownProjector(
            f"unknown projector(s) {', '.join(missing)}; known: {', '.join(sorted(by_name))}")
    return [by_name[n] for n in names]
