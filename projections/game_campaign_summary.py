"""Read model: one row per campaign — goal, location, session, party, in-combat flag,
content pack priority. Encounter starts and ends set the in-combat flag."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from questlog.events import RecordedEvent
from questlog.game.projecting import data_of, dumps, entity_id
from questlog.projection.projector import ProjectionContext, Projector, Table

COLUMNS = ("campaign_id", "name", "goal", "location_name", "location_description",
           "difficulty", "xp_system", "ruleset_id", "content_pack_priority", "narration",
           "house_rules", "session_number", "session_active", "party", "in_combat",
           "active_encounter_id", "position", "updated_at")


class GameCampaignSummary(Projector):
    name = "game_campaign_summary"
    version = 1
    mode = "inline"
    event_types = frozenset({
        "CampaignCreated", "CampaignSettingsChanged", "PartyMemberJoined", "PartyMemberLeft",
        "SessionStarted", "SessionEnded", "LocationChanged", "EncounterStarted",
        "EncounterEnded",
    })
    tables = (
        Table(
            "rm_game_campaigns",
            "campaign_id TEXT PRIMARY KEY, name TEXT NOT NULL, goal TEXT NOT NULL, "
            "location_name TEXT, location_description TEXT, difficulty TEXT NOT NULL, "
            "xp_system TEXT NOT NULL, ruleset_id TEXT NOT NULL, "
            "content_pack_priority TEXT NOT NULL, narration TEXT NOT NULL, "
            "house_rules TEXT NOT NULL, session_number INTEGER NOT NULL, "
            "session_active INTEGER NOT NULL, party TEXT NOT NULL, in_combat INTEGER NOT NULL, "
            "active_encounter_id TEXT, position INTEGER NOT NULL, updated_at TEXT",
            digest_exclude=("position", "updated_at"),
        ),
    )

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        t = ctx.table("rm_game_campaigns")
        rows: dict[str, dict[str, Any]] = {}

        def row(campaign_id: str) -> dict[str, Any] | None:
            if campaign_id not in rows:
                got = ctx.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {t} "
                                       "WHERE campaign_id = ?", (campaign_id,)).fetchone()
                if got is None:
                    return None
                rows[campaign_id] = dict(zip(COLUMNS, got, strict=True))
                rows[campaign_id]["party"] = _loads(rows[campaign_id]["party"])
            return rows[campaign_id]

        for e in events:
            d = data_of(e)
            if e.type == "CampaignCreated":
                loc = d["starting_location"] or {"name": None}   # None: no location yet
                # Recorded logs may omit fields that have defaults: use the model's defaults.
                rows[d["campaign_id"]] = {
                    "campaign_id": d["campaign_id"], "name": d["name"],
                    "goal": d.get("goal", ""), "location_name": loc["name"],
                    "location_description": loc.get("description", ""),
                    "difficulty": d.get("difficulty", "normal"),
                    "xp_system": d.get("xp_system", "xp"),
                    "ruleset_id": d.get("ruleset_id", "dnd5e-srd-2014"),
                    "content_pack_priority": dumps(d.get("content_pack_priority", [])),
                    "narration": dumps(d.get("narration", {"enabled": False, "voice": None})),
                    "house_rules": dumps(d.get("house_rules", {})),
                    "session_number": 0, "session_active": 0, "party": [], "in_combat": 0,
                    "active_encounter_id": None, "position": e.position,
                    "updated_at": e.recorded_at}
                continue
            key = d["campaign_id"] if e.type == "EncounterStarted" else entity_id(e.stream_id)
            if e.type == "EncounterEnded":
                key = _campaign_of_encounter(ctx, t, rows, entity_id(e.stream_id)) or ""
            r = row(key)
            if r is None:
                continue   # an encounter of a campaign this log does not hold
            r["position"], r["updated_at"] = e.position, e.recorded_at
            _apply(r, e.type, d, entity_id(e.stream_id))
        ctx.conn.executemany(
            f"INSERT OR REPLACE INTO {t} ({', '.join(COLUMNS)}) VALUES "
            f"({','.join('?' * len(COLUMNS))})",
            [tuple(dumps(r[c]) if c == "party" else r[c] for c in COLUMNS)
             for r in rows.values()])


def _loads(text: str) -> Any:
    import json

    return json.loads(text)


def _campaign_of_encounter(ctx: ProjectionContext, t: str, rows: dict[str, dict[str, Any]],
                           encounter_id: str) -> str | None:
    for key, r in rows.items():
        if r["active_encounter_id"] == encounter_id:
            return key
    got = ctx.conn.execute(f"SELECT campaign_id FROM {t} WHERE active_encounter_id = ?",
                           (encounter_id,)).fetchone()
    return None if got is None else str(got[0])


def _apply(r: dict[str, Any], kind: str, d: dict[str, Any], stream_entity: str) -> None:
    if kind == "CampaignSettingsChanged":
        for key in ("name", "goal", "difficulty"):
            if d.get(key) is not None:
                r[key] = d[key]
        if d.get("content_pack_priority") is not None:
            r["content_pack_priority"] = dumps(d["content_pack_priority"])
        if d.get("house_rules") is not None:
            r["house_rules"] = dumps(d["house_rules"])
        narration = _loads(r["narration"])
        if d.get("narration_enabled") is not None:
            narration["enabled"] = d["narration_enabled"]
        if d.get("tts_voice") is not None:
            narration["voice"] = d["tts_voice"]
        r["narration"] = dumps(narration)
    elif kind == "PartyMemberJoined":
        if d["character_id"] not in r["party"]:
            r["party"] = [*r["party"], d["character_id"]]
    elif kind == "PartyMemberLeft":
        r["party"] = [c for c in r["party"] if c != d["character_id"]]
    elif kind == "SessionStarted":
        r["session_number"], r["session_active"] = d["session_number"], 1
    elif kind == "SessionEnded":
        r["session_active"] = 0
    elif kind == "LocationChanged":
        r["location_name"], r["location_description"] = d["name"], d.get("description", "")
    elif kind == "EncounterStarted":
        r["in_combat"], r["active_encounter_id"] = 1, stream_entity
    elif kind == "EncounterEnded":
        r["in_combat"], r["active_encounter_id"] = 0, None
