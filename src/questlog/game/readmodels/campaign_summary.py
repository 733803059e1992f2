"""The campaign summary read model: its table and queries (projector:
`questlog.projections.game_campaign_summary`)."""

from __future__ import annotations

import sqlalchemy as sa

from ...storage.readmodels import declare, integer, json_text, text
from ...storage.session import Session
from ..projecting import loads
from ..records import CampaignSummary, Location

TABLE = declare(
    "rm_game_campaigns",
    text("campaign_id", primary_key=True), json_text("state"), integer("position"),
    text("updated_at", null=True),
    json_text("recent_messages"),   # the state's last message refs (`projecting.CompactPart`)
    text("name"), text("goal"),
    text("location_name", null=True), text("location_description", null=True),
    text("difficulty"), text("xp_system"), text("ruleset_id"), json_text("content_pack_priority"),
    json_text("narration"), json_text("house_rules"), integer("session_number"),
    integer("session_active"), json_text("party"), integer("in_combat"),
    text("active_encounter_id", null=True),
    indexes=(("active_encounter_id",),),
    digest_exclude=("position", "updated_at"),
)


# -- queries ---------------------------------------------------------------------------

_SUMMARY = sa.select(*(TABLE.c[c] for c in (
    "campaign_id", "name", "goal", "location_name", "location_description", "difficulty",
    "xp_system", "ruleset_id", "content_pack_priority", "narration", "house_rules",
    "session_number", "session_active", "party", "in_combat", "active_encounter_id",
))).where(TABLE.c.campaign_id == sa.bindparam("id"))


def summary(session: Session, campaign_id: str) -> CampaignSummary | None:
    r = session.execute(_SUMMARY, {"id": campaign_id}).fetchone()
    if r is None:
        return None
    return CampaignSummary(
        campaign_id=r[0], name=r[1], goal=r[2],
        location=Location(name=r[3], description=r[4]), difficulty=r[5], xp_system=r[6],
        ruleset_id=r[7], content_pack_priority=loads(r[8]), narration=loads(r[9]),
        house_rules=loads(r[10]), session_number=r[11], session_active=bool(r[12]),
        party=loads(r[13]), in_combat=bool(r[14]), active_encounter_id=r[15])
