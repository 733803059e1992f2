"""The game commands described from their models: the reference, JSON Schema, LLM tools.

Everything here is derived from `commands.COMMAND_MODELS` (docstrings, fields, types,
defaults, `example`), so `questlog game commands`, `questlog game schema` and the
OpenAPI body of `POST /game/commands` cannot drift from what `store.game.apply` accepts.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Literal

from pydantic import TypeAdapter

from .commands import COMMAND_MODELS, Command
from .errors import InvalidCommand

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ToolStyle = Literal["anthropic", "openai"]
TOOL_STYLES: tuple[ToolStyle, ...] = ("anthropic", "openai")


def model_of(kind: str) -> Any:
    """The command model of `kind`; InvalidCommand (listing the kinds) for an unknown one."""
    try:
        return COMMAND_MODELS[kind]
    except KeyError:
        raise InvalidCommand(f"unknown command kind {kind!r} (`questlog game commands` "
                             f"lists the {len(COMMAND_MODELS)} kinds)") from None


def example_of(kind: str) -> dict[str, Any]:
    """The model's example as a complete command (`kind` first)."""
    return {"kind": kind, **copy.deepcopy(model_of(kind).example)}


def summary_of(kind: str) -> str:
    """The first paragraph of the model's docstring, on one line."""
    return first_paragraph(model_of(kind).__doc__ or "")


def first_paragraph(text: str) -> str:
    return " ".join(text.strip().split("\n\n")[0].split())


# --- JSON Schema ---------------------------------------------------------------------------

def command_json_schema() -> dict[str, Any]:
    """One command: a `oneOf` over every kind, discriminated by `kind` (draft 2020-12)."""
    schema = TypeAdapter(Command).json_schema()
    return {"$schema": JSON_SCHEMA_DIALECT, "title": "questlog game command",
            "description": "One command of `questlog game apply` / `POST /game/commands` "
                           "(a response is a JSON list of them, applied atomically).",
            **schema}


def kind_json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of one command kind, self-contained (its own `$defs`)."""
    return {"$schema": JSON_SCHEMA_DIALECT, **model_of(kind).model_json_schema()}


# --- LLM tools -----------------------------------------------------------------------------

def tool_input_schema(kind: str) -> dict[str, Any]:
    """The arguments of the tool for `kind`: the command without its `kind` (the tool's
    name says it), its example likewise."""
    schema: dict[str, Any] = model_of(kind).model_json_schema()
    schema["properties"].pop("kind", None)
    schema["required"] = [name for name in schema.get("required", []) if name != "kind"]
    if not schema["required"]:
        del schema["required"]
    schema.pop("title", None)
    schema["examples"] = [{k: v for k, v in example_of(kind).items() if k != "kind"}]
    return schema


def tools(style: ToolStyle = "anthropic") -> list[dict[str, Any]]:
    """One tool definition per command kind, ready for an LLM client.

    `anthropic`: `{name, description, input_schema}` (Anthropic Messages API tools);
    `openai`: `{type: "function", function: {name, description, parameters}}` (OpenAI
    Chat Completions function tools). A tool call becomes the command
    `{"kind": <tool name>, **<arguments>}` (`command_from_tool_call`).
    """
    out: list[dict[str, Any]] = []
    for kind, model in COMMAND_MODELS.items():
        description = (model.__doc__ or "").strip()
        schema = tool_input_schema(kind)
        if style == "anthropic":
            out.append({"name": kind, "description": description, "input_schema": schema})
        else:
            out.append({"type": "function", "function": {
                "name": kind, "description": description, "parameters": schema}})
    return out


def command_from_tool_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The command a tool call stands for (validate it with `store.game.apply`)."""
    model_of(name)
    return {**arguments, "kind": name}


# --- the reference (`questlog game commands`) ------------------------------------------------

def reference(kind: str) -> dict[str, Any]:
    """Kind, description, fields (name, type, required, default, description), the nested
    objects' fields, and an example."""
    schema = model_of(kind).model_json_schema()
    defs: dict[str, Any] = schema.get("$defs", {})
    return {"kind": kind, "description": schema.get("description", ""),
            "fields": _fields(schema, defs, skip=("kind",)),
            "objects": {name: {"description": defs[name].get("description", ""),
                               "fields": _fields(defs[name], defs)}
                        for name in _objects_used(schema, defs)},
            "example": example_of(kind)}


def _fields(schema: dict[str, Any], defs: dict[str, Any],
            skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        if name in skip:
            continue
        field: dict[str, Any] = {"name": name, "type": type_text(prop, defs),
                                 "required": name in required}
        if "default" in prop:
            field["default"] = prop["default"]
        if prop.get("description"):
            field["description"] = prop["description"]
        out.append(field)
    return out


def _objects_used(schema: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    """Names of the `$defs` a schema reaches, in the order first met."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                name = ref.rsplit("/", 1)[-1]
                if name not in found and name in defs:
                    found.append(name)
                    walk(defs[name])
            for key, value in node.items():
                if key not in ("$defs", "examples"):
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk({k: v for k, v in schema.items() if k != "$defs"})
    return found


def type_text(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    """A short human reading of a JSON Schema property ('integer >= 0', 'list of ...')."""
    if "$ref" in prop:
        name = str(prop["$ref"]).rsplit("/", 1)[-1]
        return "reference object" if name == "RefObject" else f"{name} object"
    if "anyOf" in prop:
        options = [o for o in prop["anyOf"] if o.get("type") != "null"]
        texts = [type_text(o, defs) for o in options]
        if any(o.get("$ref", "").endswith("/RefObject") for o in options):
            text = next((o["description"] for o in options if o.get("description")), "")
            texts = [f"reference ({text + ', ' if text else ''}or a {{type, index}} object)"]
        nullable = len(options) < len(prop["anyOf"])
        return " | ".join(texts) + (" | null" if nullable else "")
    if "const" in prop:
        return repr(prop["const"])
    if "enum" in prop:
        return "one of " + ", ".join(str(v) for v in prop["enum"])
    kind = prop.get("type")
    if kind == "array":
        low, high = prop.get("minItems"), prop.get("maxItems")
        size = (f" (at least {low})" if low else "") + (f" (at most {high})" if high else "")
        return "list of " + type_text(prop.get("items", {}), defs) + size
    if kind == "object":
        values = prop.get("additionalProperties")
        keys = prop.get("propertyNames", {}).get("enum")
        if isinstance(values, dict):
            key_text = "{" + ", ".join(keys) + "}" if keys else "text"
            return f"object of {key_text} -> {type_text(values, defs)}"
        return "object"
    if kind == "string" and prop.get("pattern", "").startswith("^[A-Za-z0-9]"):
        return "id"
    if isinstance(kind, str):
        return kind + _bounds(prop, "Length" if kind == "string" else "imum")
    return "any"


def _bounds(prop: dict[str, Any], suffix: str) -> str:
    low, high = prop.get(f"min{suffix}"), prop.get(f"max{suffix}")
    if low is not None and high is not None:
        return f" {low}..{high}"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


def reference_text(kind: str) -> str:
    """`reference(kind)` as the terminal shows it."""

    ref = reference(kind)
    lines = [f"{kind}: {ref['description']}", "", "fields:"]
    lines += _field_lines(ref["fields"])
    for name, obj in ref["objects"].items():
        lines += ["", f"{name} object: {first_paragraph(obj['description'])}".rstrip()]
        lines += _field_lines(obj["fields"])
    lines += ["", "example:", "  " + json.dumps(ref["example"], ensure_ascii=False)]
    return "\n".join(lines)


def _field_lines(fields: list[dict[str, Any]]) -> list[str]:

    width = max((len(f["name"]) for f in fields), default=0)
    lines = []
    for f in fields:
        need = "required" if f["required"] else (
            f"default {json.dumps(f['default'])}" if "default" in f else "optional")
        line = f"  {f['name']:<{width}}  {f['type']}  ({need})"
        if f.get("description"):
            line += f"  {f['description']}"
        lines.append(line)
    return lines or ["  (none)"]
