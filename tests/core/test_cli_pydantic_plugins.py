"""The `questlog` command keeps pydantic's plugin search off its cold start (issue 13 point
4), and an explicit PYDANTIC_DISABLE_PLUGINS is pydantic's to read (cli/pydantic_plugins.py).

A real pydantic plugin is installed for these processes only: a distribution in a
temporary directory on PYTHONPATH whose `pydantic` entry point writes the name of every
model pydantic asks it about into a file. The library (`import questlog`) finds it;
the command does not look unless told to.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from questlog import Store
from questlog.cli.pydantic_plugins import PLUGINS_ENV, skip_plugin_search

REPO = Path(__file__).resolve().parents[2]
QUESTLOG = str(Path(sys.executable).with_name("questlog"))

PROBE = textwrap.dedent('''
    import os

    class Probe:
        def new_schema_validator(self, schema, schema_type, schema_type_path, schema_kind,
                                 config, plugin_settings):
            with open(os.environ["QUESTLOG_PROBE_LOG"], "a", encoding="utf-8") as log:
                log.write(schema_type_path.name + "\\n")
            return None, None, None

    plugin = Probe()
''')


@pytest.fixture(scope="module")
def probe_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding an installed pydantic plugin named `questlog_probe`."""
    site = tmp_path_factory.mktemp("probe-site")
    (site / "questlog_probe_plugin.py").write_text(PROBE, "utf-8")
    info = site / "questlog_probe_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: questlog-probe-plugin\nVersion: 1.0\n", "utf-8")
    (info / "entry_points.txt").write_text(
        "[pydantic]\nquestlog_probe = questlog_probe_plugin:plugin\n", "utf-8")
    return site


@pytest.fixture(scope="module")
def spell_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A store holding the starter pack, and the index of one of its spells."""
    path = tmp_path_factory.mktemp("plugins") / "store.db"
    store = Store.open(path)
    try:
        store.content.import_pack(REPO / "data" / "packs" / "starter")
        index = store.content.list("spells", limit=1)[0].index  # type: ignore[attr-defined]
    finally:
        store.close()
    return path, str(index)


def _env(probe_site: Path, log: Path, plugins: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (PLUGINS_ENV, "PYTHONPATH")}
    env["PYTHONPATH"] = str(probe_site)
    env["QUESTLOG_PROBE_LOG"] = str(log)
    if plugins is not None:
        env[PLUGINS_ENV] = plugins
    return env


def _probed(log: Path) -> list[str]:
    return log.read_text("utf-8").split() if log.exists() else []


def _content_get(spell_store: tuple[Path, str], probe_site: Path, log: Path,
                 plugins: str | None) -> str:
    path, index = spell_store
    done = subprocess.run([QUESTLOG, "--db", str(path), "--json", "content", "get", "spells",
                           index], env=_env(probe_site, log, plugins), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["index"] == index
    return done.stdout


def test_the_library_finds_the_probe_plugin(spell_store: tuple[Path, str], probe_site: Path,
                                            tmp_path: Path) -> None:
    # The plugin is real and discoverable, and `import questlog` leaves pydantic's default
    # alone: what the tests below see the command skip is there to be found.
    path, index = spell_store
    log = tmp_path / "probe.log"
    code = (f"from questlog import Store\nstore = Store.open({str(path)!r}, read_only=True)\n"
            f"print(store.content.get('spells', {index!r}).index)\nstore.close()\n")
    done = subprocess.run([sys.executable, "-c", code], env=_env(probe_site, log, None),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == index
    assert "Spell" in _probed(log)


def test_the_command_searches_no_plugin_by_default(spell_store: tuple[Path, str],
                                                  probe_site: Path, tmp_path: Path) -> None:
    log = tmp_path / "probe.log"
    _content_get(spell_store, probe_site, log, None)
    assert _probed(log) == []


@pytest.mark.parametrize(("value", "loaded"), [
    ("", True),                  # empty: every installed plugin, as pydantic does
    ("someone_else", True),      # all but the plugins it names
    ("questlog_probe", False),
    ("__all__", False), ("1", False), ("true", False),
])
def test_an_explicit_value_is_respected(spell_store: tuple[Path, str], probe_site: Path,
                                        tmp_path: Path, value: str, loaded: bool) -> None:
    log = tmp_path / "probe.log"
    out = _content_get(spell_store, probe_site, log, value)
    assert ("Spell" in _probed(log)) is loaded
    # Plugins or none, the command prints the same bytes.
    assert out == _content_get(spell_store, probe_site, tmp_path / "default.log", None)


def test_the_setting_is_a_default_only() -> None:
    from click.testing import CliRunner

    from questlog.cli import cli

    assert PLUGINS_ENV in CliRunner().invoke(cli, ["--help"]).stdout  # documented there

    env: dict[str, str] = {}
    skip_plugin_search(env)
    assert env == {PLUGINS_ENV: "__all__"}
    for value in ("", "questlog_probe", "1"):
        env = {PLUGINS_ENV: value}
        skip_plugin_search(env)
        assert env == {PLUGINS_ENV: value}
