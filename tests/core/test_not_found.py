"""One behaviour for "not found": every unknown thing is an error, exit 1 with one line on
the command line and 404 over HTTP, raised by the library as one error class per kind.

Each row names the same lookup on the CLI and over HTTP, once for a thing the store has
(it must answer: the 404 is not a broken route) and once for one it has not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from questlog import Store
from questlog.cli.quickstart import bundled_pack

QUESTLOG = str(Path(sys.executable).parent / "questlog")
UNKNOWN = "nosuch"

# (what, CLI args, HTTP path or None, the known name, the library error class)
# "{}" stands for the name looked up.
MATRIX: list[tuple[str, list[str], str | None, str, str]] = [
    ("stream", ["events", "read", "{}"], "/streams/{}", "campaign-c1", "StreamNotFound"),
    ("content entry", ["content", "get", "spells", "{}"], "/content/spells/{}", "lantern-ward",
     "ContentNotFound"),
    ("content type (get)", ["content", "get", "{}", "lantern-ward"], "/content/{}/lantern-ward",
     "spells", "UnknownContentType"),
    ("content type (list)", ["content", "list", "{}"], "/content/{}", "spells",
     "UnknownContentType"),
    ("content type (fields)", ["content", "fields", "{}"], None, "spells", "UnknownContentType"),
    # The index is not built here (that embeds): a known type answers "not built", not 404.
    ("search type", ["search", "lantern", "--type", "{}", "--mode", "keyword"],
     "/search?q=lantern&mode=keyword&type={}", None, "UnknownContentType"),
    # HTTP /search takes no pack filter yet (the http-routers branch adds it).
    ("search pack", ["search", "lantern", "--pack", "{}", "--mode", "keyword"], None,
     None, "ContentPackNotFound"),
    ("pack (remove)", ["content", "remove-pack", "{}"], None, None, "ContentPackNotFound"),
    ("projector", ["projections", "unpark", "{}"], None, "content", "UnknownProjector"),
    ("campaign (show)", ["game", "show", "campaign", "{}"], "/game/state/campaign/{}", "c1",
     "UnknownEntity"),
    ("campaign (summary)", None, "/game/campaigns/{}", "c1", "UnknownEntity"),
    ("campaign (party)", ["game", "party", "{}"], "/game/campaigns/{}/party", "c1",
     "UnknownEntity"),
    ("campaign (quests)", ["game", "quests", "{}"], "/game/campaigns/{}/quests", "c1",
     "UnknownEntity"),
    ("campaign (npcs)", ["game", "npcs", "{}"], "/game/campaigns/{}/npcs", "c1",
     "UnknownEntity"),
    ("campaign (chat)", ["game", "chat", "{}"], "/game/campaigns/{}/chat", "c1",
     "UnknownEntity"),
    ("campaign (recent chat)", ["game", "chat", "{}", "--latest", "3"], None, "c1",
     "UnknownEntity"),
    ("campaign (dice)", ["game", "dice", "{}"], "/game/campaigns/{}/dice", "c1",
     "UnknownEntity"),
    ("character (show)", ["game", "show", "character", "{}"], "/game/state/character/{}",
     "wren", "UnknownEntity"),
    ("character (sheet)", None, "/game/characters/{}", "wren", "UnknownEntity"),
    ("character (inventory)", ["game", "inventory", "{}"], "/game/characters/{}/inventory",
     "wren", "UnknownEntity"),
    ("encounter (show)", ["game", "show", "encounter", "{}"], "/game/state/encounter/{}",
     "e1", "UnknownEntity"),
    ("encounter (tracker)", ["game", "tracker", "{}"], "/game/encounters/{}", "e1",
     "UnknownEntity"),
    ("snapshot", ["game", "snapshot", "character", "{}"], None, "wren", "UnknownEntity"),
]
IDS = [row[0] for row in MATRIX]


def _fill(template: list[str] | str, name: str) -> list[str] | str:
    if isinstance(template, str):
        return template.replace("{}", name)
    return [part.replace("{}", name) for part in template]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the starter pack, a campaign, a character and an encounter."""
    path = tmp_path_factory.mktemp("notfound") / "questlog.db"
    with Store.open(path) as store:
        store.content.import_pack(bundled_pack())
        store.game.apply([
            {"kind": "create_campaign", "campaign_id": "c1", "name": "Matrix",
             "starting_location": {"name": "Brinewick"}},
            {"kind": "create_character", "campaign_id": "c1", "character_id": "wren",
             "name": "Wren", "max_hp": 10},
            {"kind": "add_item", "character_id": "wren", "item_id": "torch", "name": "Torch"},
            {"kind": "start_encounter", "encounter_id": "e1", "campaign_id": "c1",
             "combatants": [
                 {"combatant_id": "wren", "kind": "pc", "character_id": "wren", "name": "Wren"},
                 {"combatant_id": "wisp", "kind": "monster", "name": "Wisp", "hp": 5,
                  "max_hp": 5, "ac": 12}]},
        ], correlation_id="matrix")
    return path


def _cli(db: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.run([QUESTLOG, "--db", str(db), *args], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def client(db: Path) -> Iterator[object]:
    from fastapi.testclient import TestClient

    from questlog.http import create_app
    from questlog.settings import Settings

    store = Store.open(db, settings=Settings(db=db, api_token="t" * 32))
    with TestClient(create_app(store)) as c:
        yield c
    store.close()


@pytest.mark.parametrize("what, args, path, known, error", MATRIX, ids=IDS)
def test_cli_unknown_is_exit_1_and_one_line(db: Path, what: str, args: list[str] | None,
                                            path: str | None, known: str | None,
                                            error: str) -> None:
    if args is None:
        return  # an HTTP-only lookup (the CLI shows the same thing through `game show`)
    unknown = _cli(db, list(_fill(args, UNKNOWN)))
    assert unknown.returncode == 1, (unknown.stdout, unknown.stderr)
    assert unknown.stdout == ""
    lines = unknown.stderr.splitlines()
    assert len(lines) == 1, unknown.stderr
    assert lines[0].startswith(f"error: {error}: ") and UNKNOWN in lines[0], lines[0]
    if known is not None:
        found = _cli(db, list(_fill(args, known)))
        assert found.returncode == 0, (what, found.stderr)
        assert found.stdout.strip()


@pytest.mark.parametrize("what, args, path, known, error", MATRIX, ids=IDS)
def test_http_unknown_is_404(client: object, what: str, args: list[str] | None,
                             path: str | None, known: str | None, error: str) -> None:
    if path is None:
        return  # no HTTP route reads this thing
    get = client.get  # type: ignore[attr-defined]
    missing = get(_fill(path, UNKNOWN))
    assert missing.status_code == 404, (what, missing.text)
    body = json.dumps(missing.json())
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in error).lstrip("_")
    # Either the library's error kind, or the route's own name for a missing stream.
    assert snake in body or "not_found" in body, body
    assert UNKNOWN in body
    if known is not None:
        found = get(_fill(path, known))
        assert found.status_code == 200, (what, found.text)
