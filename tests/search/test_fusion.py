"""Hybrid fusion rules (pure): weights, priors, name matches; the tuned constants are a grid point."""

from __future__ import annotations

from questlog.search.fusion import GRID, PLAIN_RRF, SURVEY_TYPES, TUNED, Fusion, name_matches, words


def test_name_match_needs_every_content_word_of_the_name() -> None:
    q = words("the rogue sneak attack extra damage")
    assert name_matches(q, "Sneak Attack")
    assert not name_matches(q, "Attack of Opportunity")  # "opportunity" is missing
    assert not name_matches(words("ring that lets you turn invisible"), "Ring of Invisibility")
    assert not name_matches(q, "The")  # only stop words: never a match


def test_found_by_both_beats_found_by_one_and_priors_scale() -> None:
    f = Fusion(rrf_k=5, vector_weight=1.0, keyword_weight=0.75, type_priors={"levels": 0.5})
    q = words("anything")
    both = f.score(q, "spells", "X", 3, 3)
    assert both > f.score(q, "spells", "X", 1, None) > f.score(q, "spells", "X", None, 1)
    assert f.score(q, "levels", "X", 1, 1) == f.score(q, "spells", "X", 1, 1) * 0.5
    assert f.score(q, "spells", "X", None, None) == 0.0
    bonus = Fusion(name_bonus=0.5)
    assert bonus.score(words("speak with animals"), "spells", "Speak with Animals", 9, None) > 0.5


def test_keyword_gate_drops_deep_keyword_ranks_and_scales_keyword_only_finds() -> None:
    q = words("anything")
    f = Fusion(rrf_k=5, keyword_weight=1.0, keyword_depth=3, keyword_alone=0.5)
    assert f.score(q, "spells", "X", None, 4) == 0.0  # below the depth: noise
    assert f.score(q, "spells", "X", 2, 4) == f.score(q, "spells", "X", 2, None)
    assert f.score(q, "spells", "X", None, 1) == 0.5 * f.score(q, "spells", "X", 1, 1) - 0.5 / 6
    assert f.score(q, "spells", "X", 1, 3) == 1 / 6 + 1 / 8  # both found it: no gate
    ungated = Fusion(rrf_k=5)
    assert ungated.score(q, "spells", "X", None, 40) == 1 / 45


def test_plain_rrf_is_the_old_formula_and_tuned_is_on_the_grid() -> None:
    q = words("x")
    assert PLAIN_RRF.score(q, "spells", "X", 2, 5) == 1 / 62 + 1 / 65
    assert TUNED.vector_weight in GRID["vector_weight"]
    assert TUNED.keyword_weight in GRID["keyword_weight"]
    assert TUNED.rrf_k in GRID["rrf_k"] and TUNED.name_bonus in GRID["name_bonus"]
    assert {TUNED.type_priors[t] for t in SURVEY_TYPES} <= set(GRID["survey_prior"])
    assert TUNED.keyword_alone in GRID["keyword_alone"]
    assert TUNED.keyword_depth in GRID["keyword_depth"]
