"""What the observability tests share: tokens, the starter pack, a scrape parser."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
STARTER_PACK = REPO / "data" / "packs" / "starter"
API_TOKEN = "obs-write-token-5f2a9c"
READ_TOKEN = "obs-read-token-81d7e3"


class Scrape:
    """One scrape of a Prometheus text exposition: sample values by name and labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        self.families: set[str] = set()
        for family in text_string_to_metric_families(text):
            self.families.add(family.name)
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float:
        """The sample's value, 0 when it is absent (a counter nobody has moved yet)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)


def engine_helpers() -> ModuleType:
    """tests/engine/engine_helpers.py (its Tally projector parks on a non-integer amount)."""
    sys.path.insert(0, str(REPO / "tests" / "engine"))
    return importlib.import_module("engine_helpers")
