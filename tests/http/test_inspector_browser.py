"""The web inspector (`/ui/`) in a real headless Chromium, against a real `questlog serve`.

Chromium is Debian's (`ops/setup.sh` installs it when missing), driven by Playwright's
Python package through `executable_path` (Playwright downloads no browser here). Without
it these tests skip on a user's machine and fail under CI=true.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browsers import need_chromium
from http_tokens import READ_TOKEN, WRITE

from questlog import Store
from questlog.settings import Settings

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking"]
WAIT_MS = 15_000

SETUP: list[dict[str, Any]] = [
    {"kind": "create_campaign", "campaign_id": "road", "name": "The Greyhollow Road",
     "starting_location": "Millbrook"},
    {"kind": "create_character", "campaign_id": "road", "character_id": "aria",
     "name": "Aria", "max_hp": 12},
    {"kind": "create_character", "campaign_id": "road", "character_id": "bram",
     "name": "Bram", "max_hp": 10},
    {"kind": "add_quest", "campaign_id": "road", "quest_id": "caravan",
     "title": "Find the missing caravan"},
    {"kind": "add_quest", "campaign_id": "road", "quest_id": "bridge",
     "title": "Mend the old bridge", "status": "completed"},
    {"kind": "apply_condition", "target": {"character_id": "bram"},
     "condition": {"name": "Drenched", "homebrew": True}},
    {"kind": "append_message", "campaign_id": "road", "message_id": "m1", "role": "assistant",
     "content": "Rain lashes the river road."},
    {"kind": "start_encounter", "encounter_id": "ambush", "campaign_id": "road",
     "combatants": [
         {"combatant_id": "aria", "kind": "pc", "character_id": "aria", "name": "Aria"},
         {"combatant_id": "gob1", "kind": "monster", "name": "Goblin One", "hp": 7,
          "max_hp": 7, "ac": 15}]},
    {"kind": "roll_initiative", "encounter_id": "ambush", "combatant_id": "aria", "roll": 15},
    {"kind": "roll_initiative", "encounter_id": "ambush", "combatant_id": "gob1", "roll": 9},
    {"kind": "advance_turn", "encounter_id": "ambush"},
]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory,
         start_node: Callable[..., contextlib.AbstractContextManager[str]]) -> Iterator[str]:
    """A write node with a read token over a store holding one campaign and one fight."""
    tmp = tmp_path_factory.mktemp("inspector")
    db = tmp / "inspector.db"
    with Store.open(db, settings=Settings(db=db)) as store:
        store.game.apply(SETUP)
    with start_node(db, tmp / "node.log", QUESTLOG_READ_TOKEN=READ_TOKEN) as url:
        yield url


@pytest.fixture(scope="module")
def browser(node: str) -> Iterator[Any]:
    chromium = need_chromium(playwright=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, node: str) -> Iterator[Any]:
    """A fresh browser context that opened the inspector once with the read token."""
    context = browser.new_context(viewport={"width": 1100, "height": 700})
    tab = context.new_page()
    answer = tab.goto(f"{node}/ui/?token={READ_TOKEN}")
    assert answer is not None and answer.status == 200
    tab.wait_for_selector("#campaigns tbody tr", timeout=WAIT_MS)
    yield tab
    context.close()


def _json(node: str, path: str) -> Any:
    got = httpx.get(f"{node}{path}", headers={"Authorization": f"Bearer {READ_TOKEN}"})
    assert got.status_code == 200, got.text
    return got.json()


def test_pages_need_the_read_token(browser: Any, node: str) -> None:
    context = browser.new_context()
    tab = context.new_page()
    answer = tab.goto(f"{node}/ui/campaigns/road")
    assert answer is not None and answer.status == 401
    assert "read token" in tab.content()
    wrong = tab.goto(f"{node}/ui/?token=not-the-token")
    assert wrong is not None and wrong.status == 401
    context.close()


def test_index_lists_campaigns_and_encounters(page: Any) -> None:
    assert page.inner_text("#campaigns tbody").split("\t")[0].strip() == "road"
    assert "The Greyhollow Road" in page.inner_text("#campaigns tbody")
    page.wait_for_selector("#encounters tbody tr")
    assert "ambush" in page.inner_text("#encounters tbody")
    # The cookie set by ?token= carries the token to the next page.
    page.click("text=road")
    page.wait_for_selector("#party .card", timeout=WAIT_MS)


def test_campaign_page_shows_party_quests_and_chat(page: Any, node: str) -> None:
    page.goto(f"{node}/ui/campaigns/road")
    page.wait_for_selector("#party .card", timeout=WAIT_MS)
    party = _json(node, "/game/campaigns/road/party")["party"]
    cards = page.query_selector_all("#party .card")
    assert len(cards) == len(party) == 2
    for sheet in party:
        card = page.inner_text(f"#party .card[data-character={sheet['character_id']}]")
        assert sheet["name"] in card
        assert f"HP {sheet['current_hp']}/{sheet['max_hp']}" in card
        for condition in sheet["conditions"]:
            assert condition in card
    assert "drenched" in page.inner_text("#party .card[data-character=bram]")
    quests = page.inner_text("#quests tbody")
    assert "Find the missing caravan" in quests and "Mend the old bridge" in quests
    assert "completed" in quests
    assert "Rain lashes the river road." in page.inner_text("#chat")
    assert "Millbrook" in page.inner_text("#campaign-facts")


def test_event_browser_filters_by_type_stream_and_position(page: Any, node: str) -> None:
    page.goto(f"{node}/ui/events?type=QuestAdded")
    page.wait_for_selector("#events tbody tr", timeout=WAIT_MS)
    expected = _json(node, "/events?type=QuestAdded")["events"]
    rows = page.query_selector_all("#events tbody tr")
    assert len(rows) == len(expected) == 2
    assert all(r.inner_text().split("\t")[3] == "QuestAdded" for r in rows)

    page.goto(f"{node}/ui/events?stream=encounter-ambush")
    page.wait_for_selector("#events tbody tr", timeout=WAIT_MS)
    stream = _json(node, "/streams/encounter-ambush")["events"]
    rows = page.query_selector_all("#events tbody tr")
    assert [int(r.get_attribute("data-position")) for r in rows] == [
        e["position"] for e in stream]

    cut = stream[2]["position"]
    page.goto(f"{node}/ui/events?from={cut}")
    page.wait_for_selector("#events tbody tr", timeout=WAIT_MS)
    positions = [int(r.get_attribute("data-position"))
                 for r in page.query_selector_all("#events tbody tr")]
    assert positions[0] == cut and all(p >= cut for p in positions)

    # An event's detail shows its hash.
    page.click(f"#events tbody tr[data-position='{cut}']")
    assert page.inner_text("#event-hash") == f"hash {stream[2]['hash']}"
    assert stream[2]["type"] in page.inner_text("#event-detail")


def test_projections_page_shows_lag_and_draws_it(page: Any, node: str) -> None:
    page.goto(f"{node}/ui/projections?interval_ms=200")
    page.wait_for_selector("#projections tbody tr", timeout=WAIT_MS)
    names = [p["name"] for p in _json(node, "/projections")["projections"]]
    shown = [r.get_attribute("data-projector")
             for r in page.query_selector_all("#projections tbody tr")]
    assert shown == names
    page.wait_for_function(
        "document.querySelectorAll('#lag-chart polyline').length > 0 && "
        "document.querySelector('#lag-chart polyline').getAttribute('points').split(' ')"
        ".length >= 2", timeout=WAIT_MS)
    lines = page.query_selector_all("#lag-chart polyline")
    assert sorted(line.get_attribute("data-projector") for line in lines) == sorted(names)


def test_tracker_updates_itself_after_an_append(page: Any, node: str, tmp_path: Path) -> None:
    page.goto(f"{node}/ui/encounters/ambush?interval_ms=300")
    goblin = "#tracker tr[data-combatant=gob1]"
    page.wait_for_selector(goblin, timeout=WAIT_MS)
    assert "▶" in page.inner_text("#tracker tr[data-combatant=aria]")  # Aria's turn
    before_text = page.inner_text(f"{goblin} .hp-text")
    assert before_text == "HP 7/7"
    # The tracker alone: the header's "updated at" clock changes on every poll anyway.
    before = page.locator("#tracker").screenshot(path=str(tmp_path / "before.png"))
    assert page.locator("#tracker").screenshot() == before  # stable while nothing happens

    hit = httpx.post(f"{node}/game/commands", headers=WRITE, json={"commands": [
        {"kind": "deal_damage", "target": {"encounter_id": "ambush", "combatant_id": "gob1"},
         "amount": 4}]})
    assert hit.status_code == 200, hit.text
    page.wait_for_function(
        "document.querySelector('#tracker tr[data-combatant=gob1] .hp-text')"
        ".textContent !== 'HP 7/7'", timeout=WAIT_MS)  # no reload: the page polls
    after_text = page.inner_text(f"{goblin} .hp-text")
    assert after_text == "HP 3/7"
    after = page.locator("#tracker").screenshot(path=str(tmp_path / "after.png"))
    assert before != after
