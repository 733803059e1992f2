"""What gets embedded: one text per content entry, chunked where the model would truncate.

all-MiniLM-L6-v2 reads at most 256 word pieces (about 180-200 English words) and
silently drops the rest, so an entry longer than that is cut into chunks of
about `CHUNK_WORDS` words that overlap by `OVERLAP_WORDS`; every chunk starts
with a short context line (the entry's name and kind) so that a chunk from the
middle of "Grappled" still says what it belongs to. Rules and rule sections are
Markdown: they are split at headings first, and each chunk carries its heading
path ("Combat > Cover"). Types beyond the 25 SRD ones are embedded from their
name and every prose-looking string they carry.

Chunk size and why it is 180 words: see `chunking`.

Everything here is pure (dict in, list of chunks out) and deterministic: the
index projector relies on the same entry always giving the same texts, so the
embedding cache (keyed by text hash) hits on every rebuild.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .chunking import CHUNK_WORDS, OVERLAP_WORDS, SINGLE_CHUNK_WORDS, chunks_of, markdown_sections

__all__ = ["CHUNK_WORDS", "OVERLAP_WORDS", "SINGLE_CHUNK_WORDS", "Chunk", "chunks_for",
           "entry_chunks", "entry_name", "entry_texts", "text_hash"]

Entry = Mapping[str, Any]


@dataclass(frozen=True)
class Chunk:
    """One embedded piece of one content entry."""

    type: str
    index: str
    chunk_no: int
    text: str

    @property
    def text_hash(self) -> str:
        return text_hash(self.text)


def text_hash(text: str) -> str:
    """The key of the embedding cache (together with the model id)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# -- small helpers ---------------------------------------------------------------------

def _s(value: Any) -> str:
    """A string field, or '' for anything missing or not a string."""
    return value.strip() if isinstance(value, str) else ""


def _paras(value: Any) -> list[str]:
    """A prose field that is a string or a list of strings, as paragraphs."""
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        return [v.strip() for v in value if isinstance(v, str) and v.strip()]
    return []


def _ref_name(value: Any) -> str:
    if isinstance(value, Mapping):
        return _s(value.get("name"))
    return _s(value)


def _ref_names(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [n for n in (_ref_name(v) for v in value) if n]


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def _cr(value: Any) -> str:
    fractions = {0.125: "1/8", 0.25: "1/4", 0.5: "1/2"}
    if isinstance(value, int | float):
        if value in fractions:
            return fractions[float(value)]
        return str(int(value)) if float(value).is_integer() else str(value)
    return _s(value)


def _named_blocks(value: Any, label: str) -> list[str]:
    """Monster actions / abilities: 'Label: Name. desc' paragraphs."""
    out: list[str] = []
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                name = _s(item.get("name"))
                desc = _s(item.get("desc"))
                if name or desc:
                    out.append(f"{label}{name}. {desc}".strip())
    return out


# -- per-type builders: (context line, paragraphs) -------------------------------------

Built = tuple[str, list[str]]


def _spell(e: Entry) -> Built:
    level = e.get("level")
    school = _ref_name(e.get("school")).lower()
    if level == 0:
        kind = f"{school} cantrip".strip()
    elif isinstance(level, int):
        kind = f"{_ordinal(level)}-level {school} spell".replace("  ", " ")
    else:
        kind = "spell"
    bits = [kind]
    if e.get("ritual"):
        bits.append("ritual")
    if e.get("concentration"):
        bits.append("concentration")
    head = f"{_s(e.get('name'))} ({', '.join(bits)})"
    mech: list[str] = []
    for key, label in (("casting_time", "Casting time"), ("range", "Range"),
                       ("duration", "Duration")):
        if _s(e.get(key)):
            mech.append(f"{label}: {_s(e.get(key))}.")
    damage = e.get("damage")
    if isinstance(damage, Mapping) and _ref_name(damage.get("damage_type")):
        mech.append(f"Damage type: {_ref_name(damage.get('damage_type')).lower()}.")
    dc = e.get("dc")
    if isinstance(dc, Mapping) and _ref_name(dc.get("dc_type")):
        mech.append(f"Saving throw: {_ref_name(dc.get('dc_type'))}.")
    if _s(e.get("attack_type")):
        mech.append(f"{_s(e.get('attack_type')).capitalize()} spell attack.")
    classes = _ref_names(e.get("classes"))
    if classes:
        mech.append("Classes: " + ", ".join(classes) + ".")
    paras = [" ".join(mech)] if mech else []
    paras += _paras(e.get("desc")) + _paras(e.get("higher_level"))
    if _s(e.get("material")):
        paras.append("Material: " + _s(e.get("material")))
    return head, paras


def _monster(e: Entry) -> Built:
    mtype = _s(e.get("type"))
    sub = _s(e.get("subtype"))
    kind = " ".join(x for x in (_s(e.get("size")), mtype) if x)
    if sub:
        kind += f" ({sub})"
    head = f"{_s(e.get('name'))} ({kind} monster, challenge {_cr(e.get('challenge_rating'))})"
    mech: list[str] = []
    if _s(e.get("alignment")):
        mech.append(f"Alignment: {_s(e.get('alignment'))}.")
    speed = e.get("speed")
    if isinstance(speed, Mapping):
        moves = [f"{k} {v}" for k, v in speed.items() if isinstance(v, str)]
        if moves:
            mech.append("Speed: " + ", ".join(moves) + ".")
    for key, label in (("damage_vulnerabilities", "Vulnerable to"),
                       ("damage_resistances", "Resistant to"),
                       ("damage_immunities", "Immune to")):
        vals = [v for v in e.get(key) or [] if isinstance(v, str)]
        if vals:
            mech.append(f"{label} {', '.join(vals)} damage.")
    conds = _ref_names(e.get("condition_immunities"))
    if conds:
        mech.append("Cannot be " + ", ".join(c.lower() for c in conds) + ".")
    if _s(e.get("languages")):
        mech.append(f"Languages: {_s(e.get('languages'))}.")
    actions = [_s(a.get("name")) for a in e.get("actions") or [] if isinstance(a, Mapping)]
    if actions:
        mech.append("Actions: " + ", ".join(a for a in actions if a) + ".")
    paras = [" ".join(mech)] if mech else []
    paras += _paras(e.get("desc"))
    paras += _named_blocks(e.get("special_abilities"), "")
    paras += _named_blocks(e.get("actions"), "Action: ")
    paras += _named_blocks(e.get("legendary_actions"), "Legendary action: ")
    paras += _named_blocks(e.get("reactions"), "Reaction: ")
    return head, paras


def _magic_item(e: Entry) -> Built:
    rarity = e.get("rarity")
    rarity_name = _s(rarity.get("name")) if isinstance(rarity, Mapping) else ""
    cat = _ref_name(e.get("equipment_category"))
    kind = ", ".join(x for x in (cat.lower(), rarity_name.lower()) if x)
    return f"{_s(e.get('name'))} (magic item: {kind})", _paras(e.get("desc"))


def _equipment(e: Entry) -> Built:
    cat = _ref_name(e.get("equipment_category"))
    sub = [_s(e.get(k)) or _ref_name(e.get(k)) for k in
           ("weapon_category", "weapon_range", "armor_category", "gear_category",
            "tool_category", "vehicle_category")]
    kind = " ".join(x for x in sub if x) or cat
    head = f"{_s(e.get('name'))} (equipment: {kind.lower()})"
    mech: list[str] = []
    damage = e.get("damage")
    if isinstance(damage, Mapping):
        mech.append(f"Damage: {_s(damage.get('damage_dice'))} "
                    f"{_ref_name(damage.get('damage_type')).lower()}.")
    props = _ref_names(e.get("properties"))
    if props:
        mech.append("Properties: " + ", ".join(props) + ".")
    ac = e.get("armor_class")
    if isinstance(ac, Mapping) and "base" in ac:
        mech.append(f"Armor class {ac.get('base')}" + (" + Dex modifier" if ac.get("dex_bonus")
                                                        else "") + ".")
    if e.get("stealth_disadvantage"):
        mech.append("Disadvantage on Stealth checks.")
    cost = e.get("cost")
    if isinstance(cost, Mapping):
        mech.append(f"Cost {cost.get('quantity')} {cost.get('unit')}.")
    paras = [" ".join(mech)] if mech else []
    return head, paras + _paras(e.get("desc")) + _paras(e.get("special"))


def _feature(e: Entry) -> Built:
    owner = _ref_name(e.get("subclass")) or _ref_name(e.get("class"))
    level = e.get("level")
    lvl = f", level {level}" if isinstance(level, int) else ""
    return f"{_s(e.get('name'))} ({owner} class feature{lvl})", _paras(e.get("desc"))


def _trait(e: Entry) -> Built:
    races = _ref_names(e.get("races")) + _ref_names(e.get("subraces"))
    paras = _paras(e.get("desc"))
    spec = e.get("trait_specific")
    if isinstance(spec, Mapping):
        breath = spec.get("breath_weapon")
        if isinstance(breath, Mapping):
            paras += _paras(breath.get("desc"))
    owner = ", ".join(races)
    return f"{_s(e.get('name'))} (racial trait{': ' + owner if owner else ''})", paras


def _class(e: Entry) -> Built:
    paras = [f"Hit die d{e.get('hit_die')}."] if e.get("hit_die") else []
    saves = _ref_names(e.get("saving_throws"))
    if saves:
        paras.append("Saving throws: " + ", ".join(saves) + ".")
    profs = _ref_names(e.get("proficiencies"))
    if profs:
        paras.append("Proficiencies: " + ", ".join(profs) + ".")
    for choice in e.get("proficiency_choices") or []:
        if isinstance(choice, Mapping):
            paras += _paras(choice.get("desc"))
    spellcasting = e.get("spellcasting")
    if isinstance(spellcasting, Mapping):
        for info in spellcasting.get("info") or []:
            if isinstance(info, Mapping):
                paras += [f"{_s(info.get('name'))}: {p}" for p in _paras(info.get("desc"))]
    return f"{_s(e.get('name'))} (character class)", paras


def _subclass(e: Entry) -> Built:
    head = (f"{_s(e.get('name'))} ({_ref_name(e.get('class'))} subclass, "
            f"{_s(e.get('subclass_flavor'))})")
    return head, _paras(e.get("desc"))


def _race(e: Entry) -> Built:
    paras = [f"Speed {e.get('speed')} feet."] if e.get("speed") else []
    bonuses = []
    for b in e.get("ability_bonuses") or []:
        if isinstance(b, Mapping):
            bonuses.append(f"{_ref_name(b.get('ability_score'))} +{b.get('bonus')}")
    if bonuses:
        paras.append("Ability bonuses: " + ", ".join(bonuses) + ".")
    traits = _ref_names(e.get("traits"))
    if traits:
        paras.append("Traits: " + ", ".join(traits) + ".")
    for key in ("alignment", "age", "size_description", "language_desc"):
        paras += _paras(e.get(key))
    return f"{_s(e.get('name'))} (playable race)", paras


def _subrace(e: Entry) -> Built:
    head = f"{_s(e.get('name'))} (subrace of {_ref_name(e.get('race'))})"
    traits = _ref_names(e.get("racial_traits"))
    paras = _paras(e.get("desc"))
    if traits:
        paras.append("Traits: " + ", ".join(traits) + ".")
    return head, paras


def _background(e: Entry) -> Built:
    paras: list[str] = []
    profs = _ref_names(e.get("starting_proficiencies"))
    if profs:
        paras.append("Proficiencies: " + ", ".join(profs) + ".")
    feature = e.get("feature")
    if isinstance(feature, Mapping):
        paras += [f"Feature: {_s(feature.get('name'))}. " + " ".join(_paras(feature.get("desc")))]
    for key in ("personality_traits", "ideals", "bonds", "flaws"):
        opts = e.get(key)
        if isinstance(opts, Mapping):
            inner = opts.get("from")
            for opt in (inner.get("options") or []) if isinstance(inner, Mapping) else []:
                if isinstance(opt, Mapping):
                    paras += _paras(opt.get("string")) + _paras(opt.get("desc"))
    return f"{_s(e.get('name'))} (character background)", paras


def _level(e: Entry) -> Built:
    owner = _ref_name(e.get("subclass")) or _ref_name(e.get("class"))
    features = _ref_names(e.get("features"))
    paras = ["Features gained: " + ", ".join(features) + "."] if features else []
    return f"{owner} level {e.get('level')} (class level progression)", paras


def _proficiency(e: Entry) -> Built:
    classes = _ref_names(e.get("classes")) + _ref_names(e.get("races"))
    paras = ["Granted by: " + ", ".join(classes) + "."] if classes else []
    return f"{_s(e.get('name'))} ({_s(e.get('type')).lower()} proficiency)", paras


def _equipment_category(e: Entry) -> Built:
    items = _ref_names(e.get("equipment"))
    paras = ["Includes: " + ", ".join(items) + "."] if items else []
    return f"{_s(e.get('name'))} (equipment category)", paras


def _skill(e: Entry) -> Built:
    ability = _ref_name(e.get("ability_score"))
    return f"{_s(e.get('name'))} (skill, {ability})", _paras(e.get("desc"))


def _ability(e: Entry) -> Built:
    skills = _ref_names(e.get("skills"))
    paras = _paras(e.get("desc"))
    if skills:
        paras.append("Skills: " + ", ".join(skills) + ".")
    return f"{_s(e.get('full_name')) or _s(e.get('name'))} (ability score)", paras


def _language(e: Entry) -> Built:
    speakers = [s for s in e.get("typical_speakers") or [] if isinstance(s, str)]
    paras = _paras(e.get("desc"))
    if speakers:
        paras.append("Typical speakers: " + ", ".join(speakers) + ".")
    if _s(e.get("script")):
        paras.append(f"Script: {_s(e.get('script'))}.")
    return f"{_s(e.get('name'))} ({_s(e.get('type')).lower()} language)", paras


def _simple(label: str) -> Callable[[Entry], Built]:
    def build(e: Entry) -> Built:
        return f"{_s(e.get('name'))} ({label})", _paras(e.get("desc"))
    return build


def _feat(e: Entry) -> Built:
    return f"{_s(e.get('name'))} (feat)", _paras(e.get("desc"))


_PROSE_KEYS = ("desc", "description", "text", "higher_level", "flavor", "summary")


def _generic(type_: str) -> Callable[[Entry], Built]:
    """Types beyond the 25: the name plus every prose-looking field, in key order."""

    def build(e: Entry) -> Built:
        paras: list[str] = []
        for key in _PROSE_KEYS:
            paras += _paras(e.get(key))
        for key, value in e.items():
            if key in _PROSE_KEYS or key in ("index", "name", "url"):
                continue
            # Other long strings are prose too (short ones are labels or codes).
            if isinstance(value, str) and len(value.split()) >= 6:
                paras.append(value.strip())
        name = _s(e.get("name")) or _s(e.get("index"))
        return f"{name} ({type_.replace('-', ' ')})", paras

    return build


BUILDERS: dict[str, Callable[[Entry], Built]] = {
    "spells": _spell,
    "monsters": _monster,
    "magic-items": _magic_item,
    "equipment": _equipment,
    "features": _feature,
    "traits": _trait,
    "classes": _class,
    "subclasses": _subclass,
    "races": _race,
    "subraces": _subrace,
    "backgrounds": _background,
    "levels": _level,
    "proficiencies": _proficiency,
    "equipment-categories": _equipment_category,
    "skills": _skill,
    "ability-scores": _ability,
    "languages": _language,
    "feats": _feat,
    "conditions": _simple("condition"),
    "damage-types": _simple("damage type"),
    "magic-schools": _simple("school of magic"),
    "alignments": _simple("alignment"),
    "weapon-properties": _simple("weapon property"),
}

MARKDOWN_TYPES = frozenset({"rules", "rule-sections"})


def _markdown_chunks(e: Entry, *, size: int, overlap: int) -> list[str]:
    name = _s(e.get("name"))
    text = "\n".join(_paras(e.get("desc")))
    subsections = _ref_names(e.get("subsections"))
    if subsections:
        text += "\nSections: " + ", ".join(subsections) + "."
    out: list[str] = []
    for head, body in markdown_sections(name, text) or [(name, "")]:
        out += chunks_of(f"{head} (rules)", [body], size=size, overlap=overlap)
    return out


def entry_texts(type_: str, entry: Entry, *, size: int | None = None,
                overlap: int | None = None) -> list[str]:
    """The texts to embed for one entry, in chunk order (never empty)."""
    size = CHUNK_WORDS if size is None else size
    overlap = OVERLAP_WORDS if overlap is None else overlap
    if type_ in MARKDOWN_TYPES:
        texts = _markdown_chunks(entry, size=size, overlap=overlap)
    else:
        builder = BUILDERS.get(type_) or _generic(type_)
        head, paras = builder(entry)
        texts = chunks_of(head, paras, size=size, overlap=overlap)
    return texts or [_s(entry.get("name")) or _s(entry.get("index")) or type_]


def entry_chunks(type_: str, index: str, entry: Entry, **kw: int | None) -> list[Chunk]:
    return [Chunk(type_, index, i, t) for i, t in enumerate(entry_texts(type_, entry, **kw))]


def entry_name(type_: str, entry: Entry) -> str:
    """A display name: levels have none in the SRD, so they get '<class> level N'."""
    name = _s(entry.get("name"))
    if name:
        return name
    if type_ == "levels":
        return _level(entry)[0].split(" (")[0]
    return _s(entry.get("index"))


def chunks_for(entries: Iterable[tuple[str, str, Entry]], **kw: int | None) -> list[Chunk]:
    out: list[Chunk] = []
    for type_, index, entry in entries:
        out += entry_chunks(type_, index, entry, **kw)
    return out
