"""`questlog game`: run commands, show aggregates (now or in the past), read models."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .common import CliContext, json_option, pass_cli, store_command
from .watch import run_watch, watch_options

CATEGORY = click.Choice(["campaign", "character", "encounter"])


@click.group("game")
def game_group() -> None:
    """Game state: commands, aggregates, time travel and read models."""


def _show_text(category: str, state: Any) -> str:
    if not state.exists:
        return f"{category} does not exist at that point (stream version {state.version})"
    lines = [f"{category} {getattr(state, category + '_id')} at stream version {state.version} "
             f"(position {state.position}, {state.updated_at})"]
    if category == "campaign":
        loc = state.location.name if state.location else "-"
        running = "running" if state.session_active else "ended"
        lines += [f"  name: {state.name}", f"  location: {loc}",
                  f"  session: {state.session_number} ({running})",
                  f"  party: {', '.join(m.name for m in state.party.values() if m.active) or '-'}",
                  f"  quests: {len(state.quests)}  npcs: {len(state.npcs)}  "
                  f"messages: {state.message_count}  pending dice: {len(state.pending_dice)}"]
    elif category == "character":
        lines += [f"  {state.name}, level {state.level} ({state.xp} XP)",
                  f"  HP {state.current_hp}/{state.max_hp} (+{state.temp_hp} temp)"
                  f"{'  DEAD' if state.dead else ''}{'  stable' if state.stable else ''}",
                  f"  conditions: {', '.join(sorted(state.conditions)) or '-'}  "
                  f"exhaustion: {state.exhaustion}",
                  f"  death saves: {state.death_saves.successes} ok / "
                  f"{state.death_saves.failures} failed",
                  f"  items: {len(state.inventory)}  gold: {state.purse.gp}"]
    else:
        lines += [f"  status: {state.status}  round: {state.round}  "
                  f"current: {state.current_combatant_id or '-'}"]
        for cid in state.turn_order:
            c = state.combatants[cid]
            mark = ">" if cid == state.current_combatant_id else " "
            conds = ", ".join(r.index for r in c.conditions)
            lines.append(f"  {mark} {c.name:<20} {c.kind:<7} HP {c.hp}/{c.max_hp} "
                         f"init {c.initiative if c.initiative is not None else '-'}"
                         f"{'  [' + conds + ']' if conds else ''}")
    return "\n".join(lines)


@game_group.command("show")
@click.argument("category", type=CATEGORY)
@click.argument("entity_id")
@click.option("--at", "at_position", type=int, default=None,
              help="State as of this global log position.")
@click.option("--at-version", type=int, default=None, help="State as of this stream version.")
@click.option("--at-time", default=None, help="State as of this time (ISO 8601, UTC if naive).")
@store_command
@pass_cli
def show_cmd(cli: CliContext, category: str, entity_id: str, at_position: int | None,
             at_version: int | None, at_time: str | None) -> None:
    """Fold a campaign, character or encounter stream (time travel with --at*)."""
    store = cli.open_store(read_only=True)
    state = store.game.state(category, entity_id, position=at_position, version=at_version,
                             timestamp=at_time)
    cli.emit(state.model_dump(mode="json"), _show_text(category, state))


class _ApplyHelp(click.Command):
    """`game apply --help` lists the command kinds (read from the models when asked)."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_help_text(ctx, formatter)
        from ..game.commands import COMMAND_MODELS

        with formatter.indentation():
            formatter.write_paragraph()
            formatter.write_text("Command kinds (each a JSON object with \"kind\"): "
                                 + ", ".join(COMMAND_MODELS) + ".")
            formatter.write_paragraph()
            formatter.write_text("`questlog game commands KIND` shows a kind's fields, types, "
                                 "defaults and an example; `questlog game schema` prints them "
                                 "as JSON Schema or LLM tool definitions.")


@game_group.command("apply", cls=_ApplyHelp)
@click.argument("commands_file", type=click.Path(exists=True, dir_okay=False, allow_dash=True,
                                                 path_type=Path))
@click.option("--correlation-id", default=None,
              help="Id of this response; the same id again is a no-op.")
@click.option("--actor", default="gm-ai", show_default=True)
@click.option("--source", default="ai_response", show_default=True)
@store_command
@pass_cli
def apply_cmd(cli: CliContext, commands_file: Path, correlation_id: str | None, actor: str,
              source: str) -> None:
    """Run a JSON list of commands (file or '-') as one atomic response.

    Every command is decided against the current state; all their events are appended
    together, or nothing is (one line on stderr names the failing command and field)."""
    from ..game.errors import InvalidCommand

    try:
        text = sys.stdin.read() if str(commands_file) == "-" else commands_file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidCommand(f"cannot read {commands_file}: {exc}") from None
    try:
        commands = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidCommand(
            f"commands are not valid JSON: {exc.msg} (line {exc.lineno})") from None
    except RecursionError:
        raise InvalidCommand("commands are nested too deeply to parse") from None
    except ValueError as exc:  # an integer over Python's digit limit
        raise InvalidCommand(f"commands are not valid JSON: {exc}") from None
    if isinstance(commands, dict):
        commands = [commands]
    if not isinstance(commands, list):
        raise InvalidCommand("commands must be a JSON list of command objects")
    store = cli.open_store()
    result = store.game.apply(commands, correlation_id=correlation_id, actor=actor,
                              source=source)
    text_out = (f"{'already applied' if result.replayed else 'applied'} "
                f"{result.events} event(s) for {result.correlation_id}")
    for s in result.streams:
        text_out += f"\n  {s.stream_id}: v{s.stream_version} {', '.join(s.event_types)}"
    cli.emit(result.model_dump(mode="json"), text_out)


@game_group.command("commands")
@click.argument("kind", required=False)
@json_option
@pass_cli
def commands_cmd(cli: CliContext, kind: str | None) -> None:
    """The command kinds, or one KIND's fields, types, defaults and an example."""
    from ..game import catalog
    from ..game.commands import COMMAND_MODELS

    if kind is not None:
        cli.emit(catalog.reference(kind), catalog.reference_text(kind))
        return
    width = max(len(k) for k in COMMAND_MODELS)
    lines = [f"{k:<{width}}  {catalog.summary_of(k)}" for k in COMMAND_MODELS]
    lines += ["", "questlog game commands KIND: its fields and an example. "
                  "questlog game schema: JSON Schema or LLM tools."]
    cli.emit([catalog.reference(k) for k in COMMAND_MODELS], "\n".join(lines))


@game_group.command("schema")
@click.option("--format", "format_", type=click.Choice(["json-schema", "tools"]),
              default="json-schema", show_default=True,
              help="json-schema: one command (oneOf on `kind`); tools: one LLM tool per kind.")
@click.option("--style", type=click.Choice(["anthropic", "openai"]), default="anthropic",
              show_default=True, help="Tool shape: Anthropic tools ({name, description, "
              "input_schema}) or OpenAI function tools ({type: function, function: {name, "
              "description, parameters}}).")
@click.option("--kind", default=None, help="Only this command kind.")
def schema_cmd(format_: str, style: str, kind: str | None) -> None:
    """The game commands as JSON Schema, or as tool definitions for an LLM client.

    A tool call maps back to a command as {"kind": <tool name>, **<arguments>}."""
    from ..game import catalog

    if format_ == "tools":
        found = catalog.tools("openai" if style == "openai" else "anthropic")
        if kind is not None:
            catalog.model_of(kind)
            found = [t for t in found if t.get("name", t.get("function", {}).get("name")) == kind]
        out: Any = found
    else:
        out = catalog.kind_json_schema(kind) if kind else catalog.command_json_schema()
    click.echo(json.dumps(out, indent=2, ensure_ascii=False))


def _emit_list(cli: CliContext, items: list[Any], line: Any) -> None:
    data = [i.model_dump(mode="json") for i in items]
    cli.emit(data, "\n".join(line(i) for i in items) if items else "(none)")


@game_group.command("party")
@click.argument("campaign_id")
@store_command
@pass_cli
def party_cmd(cli: CliContext, campaign_id: str) -> None:
    """The party sheet of every active member."""
    store = cli.open_store(read_only=True)
    _emit_list(cli, store.game.party(campaign_id), lambda s: (
        f"{s.name:<20} L{s.level} HP {s.current_hp}/{s.max_hp}+{s.temp_hp} "
        f"gp {s.gold} [{', '.join(s.conditions)}]"))


@game_group.command("inventory")
@click.argument("character_id")
@store_command
@pass_cli
def inventory_cmd(cli: CliContext, character_id: str) -> None:
    """A character's items."""
    store = cli.open_store(read_only=True)
    _emit_list(cli, store.game.inventory(character_id),
               lambda i: f"{i.quantity:>3} x {i.name} ({i.item_id})")


@game_group.command("quests")
@click.argument("campaign_id")
@click.option("--status", default=None)
@store_command
@pass_cli
def quests_cmd(cli: CliContext, campaign_id: str, status: str | None) -> None:
    """The quest log."""
    store = cli.open_store(read_only=True)
    _emit_list(cli, store.game.quests(campaign_id, status),
               lambda q: f"[{q.status}] {q.title} ({q.quest_id})")


@game_group.command("npcs")
@click.argument("campaign_id")
@store_command
@pass_cli
def npcs_cmd(cli: CliContext, campaign_id: str) -> None:
    """Known NPCs."""
    store = cli.open_store(read_only=True)
    _emit_list(cli, store.game.npcs(campaign_id),
               lambda n: f"{n.name} ({n.npc_id}) {n.attitude or ''} @ {n.last_location or '-'}")


@game_group.command("dice")
@click.argument("campaign_id")
@store_command
@pass_cli
def dice_cmd(cli: CliContext, campaign_id: str) -> None:
    """Pending dice requests."""
    store = cli.open_store(read_only=True)
    _emit_list(cli, store.game.pending_dice(campaign_id),
               lambda d: f"{d.request_id}: {d.roll_type} {d.formula} for "
                         f"{', '.join(d.character_ids)} (DC {d.dc})")


@game_group.command("chat")
@click.argument("campaign_id")
@click.option("--page", type=int, default=1, show_default=True)
@click.option("--page-size", type=int, default=50, show_default=True)
@click.option("--latest", type=int, default=None, help="Only the latest N visible messages.")
@click.option("--all", "include_superseded", is_flag=True, help="Include superseded messages.")
@store_command
@pass_cli
def chat_cmd(cli: CliContext, campaign_id: str, page: int, page_size: int, latest: int | None,
             include_superseded: bool) -> None:
    """Chat history, paged (superseded messages hidden unless --all)."""
    store = cli.open_store(read_only=True)
    if latest is not None:
        _emit_list(cli, store.game.recent_chat(campaign_id, latest),
                   lambda m: f"[{m.role}] {m.content}")
        return
    chat = store.game.chat(campaign_id, page, page_size, include_superseded)
    lines = [f"page {chat.page} ({len(chat.messages)} of {chat.total})"]
    lines += [f"[{m.role}]{' (superseded)' if m.superseded else ''} {m.content}"
              for m in chat.messages]
    cli.emit(chat.model_dump(mode="json"), "\n".join(lines))


@game_group.command("tracker")
@click.argument("encounter_id")
@watch_options
@store_command
@pass_cli
def tracker_cmd(cli: CliContext, encounter_id: str, watch: bool, interval: float) -> None:
    """The encounter tracker: turn order, round, HP and conditions of every combatant."""
    store = cli.open_store(read_only=True)

    def frame() -> None:
        t = store.game.encounter_tracker(encounter_id)
        lines = [f"encounter {t.encounter_id} ({t.status}) round {t.round}"]
        for c in t.combatants:
            mark = ">" if c.combatant_id == t.current_combatant_id else " "
            lines.append(f"{mark} {c.name:<20} HP {c.hp}/{c.max_hp} "
                         f"{'' if c.present else '(left) '}[{', '.join(c.conditions)}]")
        cli.emit(t.model_dump(mode="json"), "\n".join(lines))

    if watch:
        run_watch(frame, title=f"questlog game tracker {encounter_id}", interval=interval)
    else:
        frame()


@game_group.command("snapshot")
@click.argument("category", type=CATEGORY)
@click.argument("entity_id")
@store_command
@pass_cli
def snapshot_cmd(cli: CliContext, category: str, entity_id: str) -> None:
    """Take a snapshot of an aggregate now."""
    store = cli.open_store()
    version = store.game.snapshot(category, entity_id)
    cli.emit({"stream_id": f"{category}-{entity_id}", "stream_version": version},
             f"snapshot of {category}-{entity_id} at version {version}")
