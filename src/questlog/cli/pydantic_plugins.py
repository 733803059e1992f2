"""Pydantic's plugin search, kept off the command line's cold start (issue 13, point 4).

The first time a process builds a pydantic model, pydantic looks for plugins: it asks
for the `pydantic` entry-point group, which reads the metadata of every installed
distribution. questlog ships no pydantic plugin, so the `questlog` command (this process
only: `import questlog` changes nothing) tells pydantic to load none, unless the user
said otherwise:

- `PYDANTIC_DISABLE_PLUGINS` unset: the command sets it to `__all__` (pydantic's own
  switch: no search, no plugin).
- set to any value, including an empty one: pydantic does what that value says
  (empty: every installed plugin loads; a comma-separated list: all but those).

Importing pydantic's loader still imports `importlib.metadata`; keeping that import off
as well would take replacing a standard module while pydantic imports, which a store's
command line should not do for ~30 ms.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

PLUGINS_ENV = "PYDANTIC_DISABLE_PLUGINS"
ALL_OFF = "__all__"


def skip_plugin_search(environ: MutableMapping[str, str] | None = None) -> None:
    """Turn pydantic's plugins off unless the environment names a choice (see above)."""
    env = os.environ if environ is None else environ
    env.setdefault(PLUGINS_ENV, ALL_OFF)
