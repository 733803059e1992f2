"""The command models are the one source of the command reference, the JSON Schema and
the LLM tools: every kind of the registry is described, its example validates and applies,
the exported schema agrees with the models on real and broken commands."""

from __future__ import annotations

import ast
import copy
import importlib.util
import json
import re
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from questlog import Store
from questlog.game import catalog
from questlog.game.api import GameAPI
from questlog.game.commands import COMMAND_MODELS, Command, parse_command
from questlog.game.deciders import DECIDERS
from questlog.game.errors import InvalidCommand
from questlog.settings import Settings

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
STARTER = REPO / "data" / "packs" / "starter"
QUESTLOG = str(Path(sys.executable).parent / "questlog")

# The order a story plays the examples in: the campaign, a character, a fight, its aftermath.
PLAY_ORDER = [
    "create_campaign", "change_campaign_settings", "start_session", "change_location",
    "record_npc", "add_quest", "update_quest", "record_lore", "append_message",
    "supersede_message", "create_character", "change_character_details", "request_dice_roll",
    "record_dice_roll", "clear_dice_requests", "add_item", "change_currency",
    "set_temporary_hit_points", "expend_spell_slot", "gain_experience", "level_up",
    "start_encounter", "add_combatant", "roll_initiative", "advance_turn", "deal_damage",
    "apply_condition", "remove_condition", "remove_combatant", "end_encounter",
    "record_death_save", "heal", "change_exhaustion", "take_rest", "remove_item",
    "end_session", "leave_party",
]
# Examples that decide nothing at their place in the story (their no-op is the rule):
# req-1 was fulfilled by record_dice_roll just before.
NO_OPS = {"clear_dice_requests"}


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def command_validator() -> jsonschema.Draft202012Validator:
    return _validator(catalog.command_json_schema())


@pytest.fixture
def starter_store(tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "game.db"
    store = Store.open(path, settings=Settings(db=path))
    store.content.import_pack(STARTER, pack="starter")
    yield store
    store.close()


# --- the registry and the reference ---------------------------------------------------------

def test_the_registry_is_the_union_and_every_kind_has_a_decider() -> None:
    members = typing.get_args(typing.get_args(Command)[0])
    assert list(COMMAND_MODELS.values()) == list(members)
    assert set(DECIDERS) == set(members)
    assert all(kind == model.model_fields["kind"].default
               for kind, model in COMMAND_MODELS.items())


@pytest.mark.parametrize("kind", list(COMMAND_MODELS))
def test_every_kind_has_a_reference_with_its_fields_and_a_valid_example(kind: str) -> None:
    model = COMMAND_MODELS[kind]
    ref = catalog.reference(kind)
    assert ref["kind"] == kind and ref["description"], kind
    fields = {f["name"]: f for f in ref["fields"]}
    expected = {(f.alias or name) for name, f in model.model_fields.items() if name != "kind"}
    assert set(fields) == expected
    for name, field in model.model_fields.items():
        shown = fields.get(field.alias or name)
        if shown is None:
            continue
        assert shown["required"] == field.is_required(), (kind, name)
        if not field.is_required() and field.default_factory is None:
            assert shown["default"] == json.loads(json.dumps(field.default, default=str)), name
    example = ref["example"]
    assert example["kind"] == kind
    assert parse_command(example).kind == kind          # the example validates
    text = catalog.reference_text(kind)
    for name in fields:
        assert re.search(rf"^  {re.escape(name)}\s", text, re.M), (kind, name)


def test_the_cli_lists_every_kind_and_shows_one(tmp_path: Path) -> None:
    listed = subprocess.run([QUESTLOG, "game", "commands", "--json"], capture_output=True,
                            text=True, timeout=60, check=True)
    assert [r["kind"] for r in json.loads(listed.stdout)] == list(COMMAND_MODELS)
    one = subprocess.run([QUESTLOG, "game", "commands", "deal_damage"], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert one.startswith("deal_damage: ") and "amount" in one and '"kind": "deal_damage"' in one
    bad = subprocess.run([QUESTLOG, "game", "commands", "deal_dmg"], capture_output=True,
                         text=True, timeout=60, check=False)
    assert bad.returncode == 1 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "deal_dmg" in bad.stderr
    helped = subprocess.run([QUESTLOG, "game", "apply", "--help"], capture_output=True,
                            text=True, timeout=60, check=True).stdout
    flat = " ".join(helped.split())
    assert all(kind in flat for kind in COMMAND_MODELS) and "game commands" in flat


# --- the examples, played on a real store ------------------------------------------------------

def test_the_examples_play_in_sequence_on_a_store_with_the_starter_pack(
        starter_store: Store, command_validator: jsonschema.Draft202012Validator) -> None:
    assert sorted(PLAY_ORDER) == sorted(COMMAND_MODELS)   # every kind of the registry, once
    game: GameAPI = starter_store.game
    for kind in PLAY_ORDER:
        if kind == "record_death_save":   # the story needs Mira dying first
            mira = game.state("character", "mira")
            game.apply([{"kind": "deal_damage", "target": {"character_id": "mira"},
                         "amount": mira.current_hp + mira.temp_hp}])
        example = catalog.example_of(kind)
        command_validator.validate(example)
        result = game.apply([example], correlation_id=f"example-{kind}")
        assert (result.events == 0) == (kind in NO_OPS), (kind, result)
    mira = game.state("character", "mira")
    assert (mira.level, mira.xp, mira.current_hp == mira.max_hp) == (2, 400, True)
    assert mira.spells_known[0].index == "lantern-ward"
    assert mira.cantrips_known[0].index == "whispering-chalk"
    assert set(mira.inventory) == {"ring-of-still-water"} and mira.purse.gp == 27
    fight = game.state("encounter", "quay-ambush")
    assert (fight.status, fight.outcome) == ("ended", "victory")
    assert fight.combatants["hound-1"].defeated and fight.combatants["hound-1"].max_hp == 26
    campaign = game.state("campaign", "sunken-lantern")
    assert campaign.location is not None and campaign.location.name == "The Drowned Chapel"
    assert not campaign.party["mira"].active and not campaign.session_active


# --- JSON Schema -------------------------------------------------------------------------------

def _fixture_session_commands(srd_dir: Path, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every command the recorded game session (tests/fixtures/game_session_gen.py) applies."""
    spec = importlib.util.spec_from_file_location("game_session_gen",
                                                  FIXTURES / "game_session_gen.py")
    assert spec is not None and spec.loader is not None
    gen: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    seen: list[dict[str, Any]] = []
    apply = GameAPI.apply

    def recording(self: GameAPI, commands: Any, **kw: Any) -> Any:
        seen.extend(copy.deepcopy(list(commands)))
        return apply(self, commands, **kw)

    monkeypatch.setattr(GameAPI, "apply", recording)
    store = Store.open(tmp_path / "play.db")
    try:
        store.content.import_pack(srd_dir, pack="srd")
        gen.play(store)
    finally:
        store.close()
    return seen


def test_the_schema_accepts_every_command_of_the_fixture_session(
        srd_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        command_validator: jsonschema.Draft202012Validator) -> None:
    commands = _fixture_session_commands(srd_dir, tmp_path, monkeypatch)
    assert len(commands) > 100
    kinds = {c["kind"] for c in commands}
    assert {"create_character", "start_encounter", "deal_damage", "apply_condition"} <= kinds
    for command in commands:
        errors = list(command_validator.iter_errors(command))
        assert not errors, (command, [e.message for e in errors])
        kind_schema = catalog.kind_json_schema(command["kind"])
        jsonschema.validate(command, kind_schema, cls=jsonschema.Draft202012Validator)


def _command_literals() -> list[tuple[str, dict[str, Any]]]:
    """Every command written as a literal in the test suite (valid and invalid ones)."""
    found = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Dict):
                continue
            try:
                value = ast.literal_eval(node)
            except ValueError:
                continue   # not all literal (names, calls)
            if isinstance(value, dict) and value.get("kind") in COMMAND_MODELS:
                found.append((f"{path.relative_to(REPO)}:{node.lineno}", value))
    return found


def test_the_schema_and_the_models_agree_on_every_command_literal_of_the_tests(
        command_validator: jsonschema.Draft202012Validator) -> None:
    literals = _command_literals()
    assert len(literals) > 50
    verdicts = []
    for where, command in literals:
        try:
            parse_command(command)
            accepted = True
        except InvalidCommand:
            accepted = False
        assert command_validator.is_valid(command) == accepted, (where, command)
        verdicts.append(accepted)
    assert any(verdicts) and not all(verdicts)   # both kinds are there


def _broken(kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Ways to break a kind's example that the models refuse."""
    example = catalog.example_of(kind)
    yield "unknown field", {**example, "no_such_field": 1}
    model = COMMAND_MODELS[kind]
    for name, field in model.model_fields.items():
        key = field.alias or name
        if name != "kind" and field.is_required():
            yield f"without {key}", {k: v for k, v in example.items() if k != key}
    yield "a list for an object", {**example, next(
        (f.alias or n) for n, f in model.model_fields.items() if n != "kind"): [[1]]}


@pytest.mark.parametrize("kind", list(COMMAND_MODELS))
def test_the_schema_rejects_what_the_models_reject(
        kind: str, command_validator: jsonschema.Draft202012Validator) -> None:
    for what, command in _broken(kind):
        with pytest.raises(InvalidCommand):
            parse_command(command)
        assert not command_validator.is_valid(command), (kind, what)
    for bad in ({"kind": "no_such_kind"}, {k: v for k, v in catalog.example_of(kind).items()
                                            if k != "kind"}, []):
        assert not command_validator.is_valid(bad), (kind, bad)


def test_schema_cli_prints_the_same_schema_and_one_kind() -> None:
    out = subprocess.run([QUESTLOG, "game", "schema", "--format", "json-schema"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    schema = json.loads(out)
    assert schema == catalog.command_json_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    assert {m["$ref"].rsplit("/", 1)[-1] for m in schema["oneOf"]} == {
        m.__name__ for m in COMMAND_MODELS.values()}
    one = json.loads(subprocess.run([QUESTLOG, "game", "schema", "--kind", "heal"],
                                    capture_output=True, text=True, timeout=60,
                                    check=True).stdout)
    assert one["properties"]["kind"]["const"] == "heal" and "kind" in one["required"]


# --- LLM tools -------------------------------------------------------------------------------

@pytest.mark.parametrize("style", catalog.TOOL_STYLES)
def test_tools_are_well_formed_and_map_back_to_commands(style: catalog.ToolStyle) -> None:
    tools = catalog.tools(style)
    out = subprocess.run([QUESTLOG, "game", "schema", "--format", "tools", "--style", style],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert json.loads(out) == tools
    names = []
    for tool in tools:
        if style == "anthropic":
            assert set(tool) == {"name", "description", "input_schema"}
            name, description, params = tool["name"], tool["description"], tool["input_schema"]
        else:
            assert tool["type"] == "function" and set(tool["function"]) == {
                "name", "description", "parameters"}
            fn = tool["function"]
            name, description, params = fn["name"], fn["description"], fn["parameters"]
        names.append(name)
        assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name)
        assert description.strip()
        assert params["type"] == "object" and "kind" not in params["properties"]
        validator = _validator(params)
        [arguments] = params["examples"]
        validator.validate(arguments)
        assert not validator.is_valid({**arguments, "no_such_field": 1})
        command = catalog.command_from_tool_call(name, arguments)
        assert parse_command(command).kind == name
    assert names == list(COMMAND_MODELS)


# --- reference forms -------------------------------------------------------------------------

REF_FORMS = ["hill-dwarf", "Hill Dwarf", {"type": "races", "index": "hill-dwarf"},
             {"index": "hill-dwarf"}, {"index": "hill-dwarf", "name": "Hill Dwarf",
                                       "url": "/api/2014/races/hill-dwarf"}]


def _create(**fields: Any) -> dict[str, Any]:
    return {"kind": "create_character", "character_id": "mira", "campaign_id": "c",
            "name": "Mira", **fields}


@pytest.mark.parametrize("field, type_", [
    ("race", "races"), ("subrace", "subraces"), ("class", "classes"),
    ("subclass", "subclasses"), ("background", "backgrounds"), ("alignment", "alignments")])
def test_reference_forms_are_equivalent_in_commands_and_events(field: str, type_: str) -> None:
    from questlog.game.normalize import canonical_data

    forms = [f if isinstance(f, str) else {**f, **({"type": type_} if "type" in f else {})}
             for f in REF_FORMS]
    parsed = [parse_command(_create(**{field: form})) for form in forms]
    dumped = {json.dumps(p.model_dump(mode="json", by_alias=True)[field], sort_keys=True)
              for p in parsed}
    assert len(dumped) == 1
    ref = json.loads(dumped.pop())
    assert ref == {"type": type_, "index": "hill-dwarf", "name": "Hill Dwarf",
                   "homebrew": False, "pack": None}
    for form in forms:   # a recorded CharacterCreated reads the same forms the same way
        data = canonical_data("CharacterCreated", 1, {
            "character_id": "mira", "campaign_id": "c", "name": "Mira", "max_hp": 9,
            "current_hp": 9, field: form})
        assert data[field] == ref


@pytest.mark.parametrize("command, path", [
    ({"kind": "expend_spell_slot", "character_id": "mira", "slot_level": 1}, ("spell",)),
    ({"kind": "level_up", "character_id": "mira"}, ("subclass",)),
    ({"kind": "record_npc", "campaign_id": "c", "npc_id": "n", "name": "N"}, ("monster_ref",)),
    ({"kind": "apply_condition", "target": {"character_id": "mira"}}, ("condition",)),
    ({"kind": "remove_condition", "target": {"character_id": "mira"}}, ("condition",)),
    ({"kind": "add_item", "character_id": "mira", "item_id": "i", "name": "I"},
     ("content_ref",)),
    (_create(), ("spells_known", 0)),
    (_create(features=[{"name": "F"}]), ("features", 0, "ref")),
    ({"kind": "add_combatant", "encounter_id": "e", "combatant": {
        "combatant_id": "x", "kind": "monster", "name": "X", "hp": 1, "max_hp": 1}},
     ("combatant", "monster_ref")),
    ({"kind": "add_combatant", "encounter_id": "e", "combatant": {
        "combatant_id": "x", "kind": "monster", "name": "X", "hp": 1, "max_hp": 1}},
     ("combatant", "conditions", 0)),
])
def test_every_reference_field_takes_index_name_or_object(
        command: dict[str, Any], path: tuple[Any, ...],
        command_validator: jsonschema.Draft202012Validator) -> None:
    results = []
    for form in ("poisoned", "Poisoned", {"index": "poisoned"}, {"name": "Poisoned"},
                 {"index": "poisoned", "url": "/api/2014/x/poisoned"}):
        given = copy.deepcopy(command)
        _put(given, path, form)
        command_validator.validate(given)
        parsed = parse_command(given).model_dump(mode="json", by_alias=True)
        results.append(_get(parsed, path))
    assert all(r == results[0] for r in results), results
    assert (results[0]["index"], results[0]["name"]) == ("poisoned", "Poisoned")


def _put(target: Any, path: tuple[Any, ...], value: Any) -> None:
    for i, key in enumerate(path[:-1]):
        if isinstance(target, dict) and key not in target:
            target[key] = [] if isinstance(path[i + 1], int) else {}
        target = target[key]
    last = path[-1]
    if isinstance(last, int):
        target.append(value)
    else:
        target[last] = value


def _get(target: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        target = target[key]
    return target


def test_forms_decide_the_same_events_on_a_real_store(starter_store: Store) -> None:
    game = starter_store.game
    game.apply([{"kind": "create_campaign", "campaign_id": "c", "name": "C",
                 "starting_location": "Saltmarsh Quay"}])
    place = game.state("campaign", "c").location
    assert (place.name, place.description) == ("Saltmarsh Quay", "")
    decided = []
    for i, (spell, monster, item) in enumerate([
            ("lantern-ward", "brine-hound", "tide-hook"),
            ("Lantern Ward", "Brine Hound", "Tide Hook"),
            ({"type": "spells", "index": "lantern-ward"}, {"index": "brine-hound"},
             {"type": "equipment", "index": "tide-hook", "url": "/api/equipment/tide-hook"})]):
        events = game.decide([
            _create(character_id=f"m{i}", campaign_id="c", spells_known=[spell],
                    inventory=[{"item_id": "hook", "name": "Hook", "content_ref": item}]),
            {"kind": "start_encounter", "encounter_id": f"e{i}", "campaign_id": "c",
             "combatants": [{"combatant_id": "h", "kind": "monster", "name": "H",
                             "monster_ref": monster}]}])
        decided.append([(e.type, {k: v for k, v in e.data.items()
                                  if k not in ("character_id", "encounter_id")})
                        for e in events])
    assert decided[0] == decided[1] == decided[2]
    started = decided[0][-1][1]
    assert started["combatants"][0]["max_hp"] == 26   # the stat block came from the pack
