"""The engine tests' projectors (engine_helpers.py) sit next to this file; tests import
them by name (`import engine_helpers as h`)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
