"""`POST /game/commands`: its OpenAPI body is the discriminated union of the command
models, and a body that does not fit is a 422 naming the command and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient
from http_tokens import API_TOKEN

from questlog import Store
from questlog.game import catalog
from questlog.game.commands import COMMAND_MODELS

WRITE = {"Authorization": f"Bearer {API_TOKEN}"}
STARTER = Path(__file__).resolve().parents[2] / "data" / "packs" / "starter"


def _spec(client: TestClient) -> dict[str, Any]:
    spec: dict[str, Any] = client.get("/openapi.json").json()
    return spec


def test_the_spec_types_commands_as_a_union_discriminated_on_kind(client: TestClient) -> None:
    spec = _spec(client)
    components = spec["components"]["schemas"]
    body = spec["paths"]["/game/commands"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/GameCommandsRequest"}
    items = components["GameCommandsRequest"]["properties"]["commands"]["items"]
    assert items["discriminator"]["propertyName"] == "kind"
    mapping = items["discriminator"]["mapping"]
    assert set(mapping) == set(COMMAND_MODELS)                      # every kind, no other
    assert sorted(o["$ref"] for o in items["oneOf"]) == sorted(mapping.values())
    for kind, ref in mapping.items():
        name = ref.rsplit("/", 1)[-1]
        assert name == COMMAND_MODELS[kind].__name__
        schema = components[name]
        assert schema["properties"]["kind"]["const"] == kind and "kind" in schema["required"]
        # The component is the model's own schema: no other model of the same name won.
        own = COMMAND_MODELS[kind].model_json_schema(
            ref_template="#/components/schemas/{model}")
        for sub, definition in own.pop("$defs", {}).items():
            assert components[sub] == definition, sub
        assert schema == own


def test_examples_validate_against_the_spec_and_apply_over_http(
        client: TestClient, store: Store) -> None:
    spec = _spec(client)
    request_schema = {**spec["components"]["schemas"]["GameCommandsRequest"],
                      "components": spec["components"]}
    body = {"correlation_id": "turn-1", "commands": [
        catalog.example_of("create_campaign"), catalog.example_of("change_location")]}
    resolver_schema = _inline_refs(request_schema)
    jsonschema.validate(body, resolver_schema)
    resp = client.post("/game/commands", json=body, headers=WRITE)
    assert resp.status_code == 200, resp.text
    assert resp.json()["events"] == 2
    place = client.get("/game/campaigns/sunken-lantern").json()
    assert "The Drowned Chapel" in str(place)


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI's `#/components/schemas/X` refs, resolvable by jsonschema in one document."""
    import json

    text = json.dumps(schema).replace("#/components/schemas/", "#/components/")
    out: dict[str, Any] = json.loads(text)
    out["components"] = out["components"]["schemas"]
    return out


@pytest.mark.parametrize("command, named", [
    ({"kind": "deal_damage", "target": {"character_id": "mira"}, "amount": -3},
     ["deal_damage", "amount"]),
    ({"kind": "deal_damage", "target": {"character_id": "mira"}, "amount": 3, "amout": 3},
     ["deal_damage", "amout"]),
    ({"kind": "create_campaign", "campaign_id": "c", "starting_location": "Quay"},
     ["create_campaign", "name"]),
    ({"kind": "deal_dmg", "amount": 3}, ["deal_dmg", "deal_damage"]),
    ({"amount": 3}, ["kind"]),
])
def test_a_bad_command_is_a_422_naming_it_and_nothing_is_written(
        client: TestClient, store: Store, command: dict[str, Any], named: list[str]) -> None:
    head = store.head_position()
    good = catalog.example_of("create_campaign")
    resp = client.post("/game/commands", json={"commands": [good, command]}, headers=WRITE)
    assert resp.status_code == 422, resp.text
    for word in named:
        assert word in resp.text, (word, resp.text)
    assert '"commands"' in resp.text and "1" in resp.text   # the failing command's position
    assert store.head_position() == head


def test_reference_forms_over_http_decide_like_the_object_form(
        client: TestClient, store: Store) -> None:
    store.content.import_pack(STARTER, pack="starter")
    campaign = {"kind": "create_campaign", "campaign_id": "c", "name": "C",
                "starting_location": "Quay"}
    assert client.post("/game/commands", json={"commands": [campaign]},
                       headers=WRITE).status_code == 200
    refs = []
    for i, form in enumerate(["brine-hound", "Brine Hound", {"index": "brine-hound"},
                              {"type": "monsters", "index": "brine-hound"}]):
        command = {"kind": "start_encounter", "encounter_id": f"e{i}", "campaign_id": "c",
                   "combatants": [{"combatant_id": "h", "kind": "monster", "name": "H",
                                   "monster_ref": form}]}
        resp = client.post("/game/commands", json={"commands": [command]}, headers=WRITE)
        assert resp.status_code == 200, resp.text
        refs.append(store.read_stream(f"encounter-e{i}")[0].data["combatants"][0])
    assert all(r == refs[0] for r in refs)
    assert refs[0]["monster_ref"]["index"] == "brine-hound" and refs[0]["max_hp"] == 26
