"""Pydantic's plugin search, kept off the command line's cold start (issue 13, point 4).

The first time a process builds a pydantic model, pydantic looks for plugins: its
`pydantic.plugin._loader` imports `importlib.metadata` (email, zipfile, csv, tempfile
and more with it) and asks for the `pydantic` entry-point group, which reads the
metadata of every installed distribution. In a command that prints one content entry
that was a third of the command's time. questlog ships no pydantic plugin, so the
`questlog` command (this process only: `import questlog` changes nothing) tells pydantic
to load none, unless the user said otherwise:

- `PYDANTIC_DISABLE_PLUGINS` unset: the command sets it to `__all__` (pydantic's own
  switch: no search, no plugin).
- set to any value, including an empty one: pydantic does what that value says
  (empty: every installed plugin loads; a comma-separated list: all but those).

With every plugin off, pydantic never calls `entry_points`, but importing its loader
still imports `importlib.metadata`. So while pydantic's loader module executes, and
only then, `importlib.metadata` names a stand-in whose `entry_points` imports the real
module on its first call: pydantic's own code runs unchanged, a process that never
searches never pays for the import, and every other importer gets the real module.
A loader that wants more from `importlib.metadata` than `entry_points` is simply run
again with the real module, and a process already running other threads (one of them
could import `importlib.metadata` meanwhile and get the stand-in) gets no stand-in.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from importlib.abc import Loader  # not at run time: it imports importlib.resources
    from importlib.machinery import ModuleSpec

PLUGINS_ENV = "PYDANTIC_DISABLE_PLUGINS"
ALL_OFF = "__all__"
# The values with which pydantic's `get_plugins` returns no plugin without searching.
_OFF_VALUES = frozenset({"__all__", "1", "true"})
_LOADER = "pydantic.plugin._loader"
_METADATA = "importlib.metadata"


def skip_plugin_search(environ: MutableMapping[str, str] | None = None) -> None:
    """Turn pydantic's plugins off unless the environment names a choice (see above)."""
    env = os.environ if environ is None else environ
    env.setdefault(PLUGINS_ENV, ALL_OFF)
    if env[PLUGINS_ENV] not in _OFF_VALUES:
        return  # plugins wanted: pydantic searches as it always does
    if _METADATA in sys.modules or _LOADER in sys.modules:
        return  # already paid (or already decided)
    if not any(isinstance(finder, _LoaderFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LoaderFinder())


def entry_points(**params: Any) -> Any:
    """`importlib.metadata.entry_points`, importing `importlib.metadata` on the first call."""
    from importlib import metadata

    return metadata.entry_points(**params)


class _LoaderFinder:
    """A meta-path finder that answers only for pydantic's plugin loader, once."""

    def find_spec(self, name: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> ModuleSpec | None:
        if name != _LOADER:
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec: ModuleSpec | None = find(name, path, target) if find is not None else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = cast("Loader", _WithLazyEntryPoints(spec.loader))
                return spec
        return None


def _other_threads_running() -> bool:
    threading = sys.modules.get("threading")
    return threading is not None and threading.active_count() > 1


class _WithLazyEntryPoints:
    """Executes pydantic's loader module while `importlib.metadata` is the stand-in."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: types.ModuleType) -> None:
        if _METADATA in sys.modules or _other_threads_running():
            # Paid already; or another thread could import importlib.metadata while the
            # stand-in is in sys.modules and get the stand-in: no stand-in then.
            self._loader.exec_module(module)
            return
        stand_in = types.ModuleType(_METADATA, "importlib.metadata, imported on first use")
        stand_in.entry_points = entry_points  # type: ignore[attr-defined]
        sys.modules[_METADATA] = stand_in
        try:
            self._loader.exec_module(module)
        except ImportError:
            # This pydantic takes more than `entry_points` from importlib.metadata.
            del sys.modules[_METADATA]
            self._loader.exec_module(module)
        finally:
            if sys.modules.get(_METADATA) is stand_in:
                del sys.modules[_METADATA]

    def __getattr__(self, name: str) -> Any:
        # get_source, get_filename, is_package...: tracebacks and inspect ask the loader.
        return getattr(self._loader, name)
