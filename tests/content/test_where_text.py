"""The one text grammar of content filters (`content list --where`, `search --where`, HTTP
`?where=`): what each form becomes, and that it selects what the mapping form selects."""

from __future__ import annotations

from pathlib import Path

import pytest

from questlog import Store
from questlog.content.columns import filter_columns
from questlog.content.query import InvalidContentFilter
from questlog.content.where_text import parse_where
from questlog.errors import UnknownContentType, UnknownFilterField

STARTER = Path(__file__).resolve().parents[2] / "data" / "packs" / "starter"
SPELLS = filter_columns("spells")
MONSTERS = filter_columns("monsters")


def test_each_form_becomes_the_api_mapping() -> None:
    assert parse_where(["level=3"], SPELLS) == {"level": 3}
    assert parse_where([" school = evocation "], SPELLS) == {"school": "evocation"}
    assert parse_where(["school=evocation,abjuration"], SPELLS) == {
        "school": ["evocation", "abjuration"]}
    assert parse_where(["level=1,2"], SPELLS) == {"level": [1, 2]}
    assert parse_where(["challenge_rating>=1", "challenge_rating<=5"], MONSTERS) == {
        "challenge_rating": {"gte": 1.0, "lte": 5.0}}
    assert parse_where(["level=3", "level!=4"], SPELLS) == {"level": {"eq": 3, "ne": 4}}
    assert parse_where(["ritual=yes", "concentration=false"], SPELLS) == {
        "ritual": True, "concentration": False}
    # membership fields: one value needs it, a list any of them, twice needs both, != none
    assert parse_where(["classes=wizard"], SPELLS) == {"classes": {"all": ["wizard"]}}
    assert parse_where(["classes=wizard,cleric"], SPELLS) == {
        "classes": {"any": ["wizard", "cleric"]}}
    assert parse_where(["classes=wizard", "classes=cleric"], SPELLS) == {
        "classes": {"all": ["wizard", "cleric"]}}
    assert parse_where(["classes!=bard"], SPELLS) == {"classes": {"none": ["bard"]}}
    # a field the type lacks is left for the query to refuse, naming the known ones
    assert parse_where(["colour=red"], SPELLS) == {"colour": "red"}


@pytest.mark.parametrize("item, says", [
    ("novalue", "expected FIELD=VALUE"),
    ("level>=high", "level takes a number"),
    ("ritual=maybe", "ritual takes true or false"),
    ("classes>=wizard", "membership field"),
])
def test_malformed_items_are_one_clear_filter_error(item: str, says: str) -> None:
    with pytest.raises(InvalidContentFilter, match=says):
        parse_where([item], SPELLS)


def test_parsed_text_selects_what_the_mapping_selects(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "where.db")
    try:
        store.content.import_pack(STARTER, pack="starter")
        text = store.content.list("spells", where=parse_where(["level>=1", "level<=3"], SPELLS))
        mapping = store.content.list("spells", where={"level": {"between": [1, 3]}})
        assert [s.index for s in text] == [s.index for s in mapping]
        assert {s.index for s in text} == {"lantern-ward", "tidecall-bolt", "ember-choir"}
        with pytest.raises(UnknownFilterField, match="known: .*level") as caught:
            store.content.list("spells", where=parse_where(["colour=red"], SPELLS))
        assert isinstance(caught.value, UnknownContentType)  # what callers caught before
    finally:
        store.close()
