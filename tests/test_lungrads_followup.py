"""Lung-RADS v2022 with priors: every row of the follow-up table and its boundaries, growth
over the interval, stepped management, slow growth and category 0 for a missing prior."""

from __future__ import annotations

import pytest

from kernel.contract import Nodule, NoduleType
from kernel.followup import (
    Change,
    Comparison,
    PriorNodule,
    categorize_compared,
    categorize_round,
    classify_change,
)
from kernel.lungrads import Category

S, P, G = NoduleType.SOLID, NoduleType.PART_SOLID, NoduleType.GROUND_GLASS
YEAR = 365.0


def nodule(kind: NoduleType, d: float, solid: float | None = None) -> Nodule:
    solid_mm = d if kind is S else (0.0 if kind is G else (solid or 0.0))
    return Nodule(10.0, 20.0, 30.0, d, solid_mm, kind, 0.9)


def prior(kind: NoduleType, d: float, category: str, solid: float | None = None,
          first: float | None = None, days_since_first: float = 0.0) -> PriorNodule:
    solid_mm = d if kind is S else (0.0 if kind is G else (solid or 0.0))
    return PriorNodule(d, solid_mm, kind, Category.parse(category), first, days_since_first)


# (type, diameter, solid part, expected): the "new" row of the follow-up table
NEW_ROWS = [
    (S, 3.9, None, "2"), (S, 4.0, None, "3"), (S, 5.9, None, "3"), (S, 6.0, None, "4A"),
    (S, 7.9, None, "4A"), (S, 8.0, None, "4B"), (S, 20.0, None, "4B"),
    (P, 5.9, 3.0, "3"), (P, 6.0, 3.9, "4A"), (P, 6.0, 4.0, "4B"), (P, 12.0, 2.0, "4A"),
    (P, 12.0, 7.0, "4B"),
    (G, 29.9, None, "2"), (G, 30.0, None, "3"), (G, 5.0, None, "2"),
]


@pytest.mark.parametrize(("kind", "d", "solid", "expected"), NEW_ROWS)
def test_new_nodules(kind, d, solid, expected):
    comparison = Comparison(Change.NEW, None, YEAR)
    assert categorize_compared(nodule(kind, d, solid), comparison) == Category.parse(expected)


# (type, diameter, solid part, expected): the "grown" row
GROWN_ROWS = [
    (S, 4.0, None, "4A"), (S, 7.9, None, "4A"), (S, 8.0, None, "4B"), (S, 16.0, None, "4B"),
    (P, 10.0, 3.9, "4A"), (P, 10.0, 4.0, "4B"),
    (G, 12.0, None, "2"), (G, 35.0, None, "2"),
]


@pytest.mark.parametrize(("kind", "d", "solid", "expected"), GROWN_ROWS)
def test_growing_nodules(kind, d, solid, expected):
    comparison = Comparison(Change.GROWN, prior(kind, d - 2.0, "2", (solid or 0) - 2.0), YEAR)
    assert categorize_compared(nodule(kind, d, solid), comparison) == Category.parse(expected)


# (type, prior d, prior category, current d, expected): stepped management and thresholds
UNCHANGED_ROWS = [
    (S, 7.0, "3", 7.0, "2"),     # stable 6-8 mm steps down to 2 (the issue's example)
    (S, 7.0, "2", 7.2, "2"),     # already stepped down: stays 2
    (S, 10.0, "4A", 10.0, "3"),  # stable 4A steps to 3 ...
    (S, 10.0, "3", 10.3, "2"),   # ... and then to 2
    (S, 5.0, "4A", 5.0, "3"),    # a nodule 4A because it grew, stable now: 3
    (S, 16.0, "4B", 16.0, "4B"),  # no step down from 4B
    (S, 5.0, "2", 5.0, "2"),
    (S, 5.8, "2", 6.3, "3"),     # crossed 6 mm without growth: by size
    (S, 7.5, "2", 8.4, "4A"),    # crossed 8 mm without growth: by size
    (S, 14.2, "3", 15.0, "4B"),  # crossed 15 mm
    (S, 12.0, "4A", 9.0, "3"),   # smaller: steps down
    (G, 31.0, "3", 31.0, "2"),   # ground glass >= 30 mm and stable: 2
    (G, 20.0, "2", 21.0, "2"),
]


@pytest.mark.parametrize(("kind", "prior_d", "prior_cat", "d", "expected"), UNCHANGED_ROWS)
def test_stable_and_smaller_nodules(kind, prior_d, prior_cat, d, expected):
    change = Change.SMALLER if d < prior_d - 1.5 else Change.STABLE
    comparison = Comparison(change, prior(kind, prior_d, prior_cat), YEAR)
    assert categorize_compared(nodule(kind, d), comparison) == Category.parse(expected)


def test_baseline_nodules_use_the_baseline_table():
    comparison = Comparison(Change.BASELINE)
    assert categorize_compared(nodule(S, 7.0), comparison) is Category.PROBABLY_BENIGN
    assert categorize_compared(nodule(S, 5.9), comparison) is Category.BENIGN


@pytest.mark.parametrize(("prior_d", "d", "days", "expected"), [
    (6.0, 7.5, YEAR, Change.STABLE),     # exactly 1.5 mm is not growth
    (6.0, 7.6, YEAR, Change.GROWN),      # more than 1.5 mm within 12 months
    (6.0, 7.6, 180.0, Change.GROWN),
    (6.0, 8.9, 2 * YEAR, Change.STABLE),  # 2.9 mm over 24 months: < 1.5 per 12 months
    (6.0, 9.2, 2 * YEAR, Change.GROWN),  # 3.2 over 24 months
    (6.0, 4.5, YEAR, Change.STABLE),     # exactly 1.5 mm smaller is stable
    (6.0, 4.4, YEAR, Change.SMALLER),
    (5.96, 7.54, YEAR, Change.STABLE),   # rounded to 0.1 mm first: 6.0 -> 7.5, not > 1.5
])
def test_growth_is_judged_over_12_months(prior_d, d, days, expected):
    p = prior(S, prior_d, "3")
    assert classify_change(nodule(S, d), p, days, has_prior_screen=True) is expected


def test_part_solid_growth_is_judged_on_the_solid_part():
    p = prior(P, 10.0, "3", solid=2.0)
    ground_glass_grew = nodule(P, 14.0, 2.5)
    solid_grew = nodule(P, 10.5, 4.0)
    assert classify_change(ground_glass_grew, p, YEAR, has_prior_screen=True) is Change.STABLE
    assert classify_change(solid_grew, p, YEAR, has_prior_screen=True) is Change.GROWN


def test_change_without_a_prior_screen_or_prior_nodule():
    assert classify_change(nodule(S, 5.0), None, 0.0, has_prior_screen=False) is Change.BASELINE
    assert classify_change(nodule(S, 5.0), None, YEAR, has_prior_screen=True) is Change.NEW


def test_slow_growth_over_several_screens_is_4b():
    # 5.0 when first seen, 6.0 a year later, 6.8 now: never 1.5 mm in 12 months, 1.8 in all
    slow = prior(S, 6.0, "2", first=5.0, days_since_first=YEAR)
    comparison = Comparison(Change.STABLE, slow, YEAR)
    assert categorize_compared(nodule(S, 6.8), comparison) is Category.VERY_SUSPICIOUS_4B
    not_yet = prior(S, 6.0, "3", first=5.5, days_since_first=YEAR)
    assert categorize_compared(nodule(S, 6.8), Comparison(Change.STABLE, not_yet, YEAR)) \
        is Category.BENIGN  # 1.3 mm in all: stable, stepped down from 3


def test_resolved_is_not_a_current_nodule():
    with pytest.raises(ValueError, match="resolved"):
        categorize_compared(nodule(S, 5.0), Comparison(Change.RESOLVED))


def test_round_category_is_the_worst_nodule_or_0():
    stable = (nodule(S, 7.0), Comparison(Change.STABLE, prior(S, 7.0, "3"), YEAR))
    new = (nodule(S, 5.0), Comparison(Change.NEW, None, YEAR))
    assert categorize_round([stable]) is Category.BENIGN
    assert categorize_round([stable, new]) is Category.PROBABLY_BENIGN
    assert categorize_round([]) is Category.NEGATIVE
    assert categorize_round([new], prior_missing=True) is Category.INCOMPLETE
    assert categorize_round([new], lungs_covered=False) is Category.INCOMPLETE


def test_issue_examples():
    """A new 5 mm solid nodule is 3, a stable 7 mm one steps down to 2, a 6 mm one that grew
    2 mm in a year is 4A."""
    assert categorize_compared(nodule(S, 5.0), Comparison(Change.NEW, None, YEAR)) \
        is Category.PROBABLY_BENIGN
    assert categorize_compared(nodule(S, 7.0), Comparison(Change.STABLE, prior(S, 7.0, "3"),
                                                          YEAR)) is Category.BENIGN
    grew = prior(S, 4.0, "2")
    change = classify_change(nodule(S, 6.0), grew, YEAR, has_prior_screen=True)
    assert change is Change.GROWN
    assert categorize_compared(nodule(S, 6.0), Comparison(change, grew, YEAR)) \
        is Category.SUSPICIOUS_4A
