"""Lung-RADS v2022 for screens with a prior: how each nodule changed, and its category.

A follow-up screen is read against the person's prior screen. Each nodule gets a `Change`
(`new`, `grown`, `stable`, `smaller`; `baseline` when the person has no prior screen;
`resolved` names a prior nodule that is gone) and a category from the rows of the ACR
follow-up table, kept here as data (shared/reference/lung-rads.md, "Follow-up screens"):

| change            | solid                 | part-solid (by solid part)      | ground-glass |
| ----------------- | --------------------- | ------------------------------- | ------------ |
| new               | <4: 2, 4-<6: 3,       | total <6: 3; else solid part    | <30: 2,      |
|                   | 6-<8: 4A, >=8: 4B     | <4: 4A, >=4: 4B                 | >=30: 3      |
| grown             | <8: 4A, >=8: 4B       | solid part <4: 4A, >=4: 4B      | 2 (any size) |
| stable / smaller  | stepped management (below), unless the size crossed a threshold  |

Growth is an increase of more than 1.5 mm in mean diameter within 12 months; over a longer
interval the increase is annualised (a 24-month round needs more than 3 mm). For part-solid
nodules growth is judged on the solid part (the ACR's "new or growing solid component"); a
part-solid nodule whose ground-glass part alone grew keeps its size category. A solid
nodule whose increase since it was first seen passes 1.5 mm over several screens without
growing 1.5 mm in any 12 months ("slow growth") is 4B.

Stepped management (v2022): a nodule that is stable or smaller steps one category down from
its category at the prior screen: 4A -> 3, 3 -> 2 (other categories stay). A nodule that
crossed a size threshold without meeting growth (its baseline size category rose above the
prior size's) is re-categorised by its size as at baseline.

Category 0 when the person's prior is expected (the study says it is a later round) but not
found in the campaign's priors: the ACR's "prior chest CT being located for comparison".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from kernel.contract import Nodule, NoduleType
from kernel.lungrads import Category, categorize_nodule

__all__ = [
    "GROWTH_MM",
    "Change",
    "Comparison",
    "PriorNodule",
    "categorize_compared",
    "categorize_round",
    "classify_change",
]

GROWTH_MM = 1.5  # more than this in mean diameter within 12 months is growth
_DAYS_PER_12_MONTHS = 365.25


class Change(StrEnum):
    """How a nodule compares with the person's prior screen."""

    BASELINE = "baseline"  # the person has no prior screen
    NEW = "new"
    GROWN = "grown"
    STABLE = "stable"
    SMALLER = "smaller"
    RESOLVED = "resolved"  # a prior nodule with no counterpart now


@dataclass(frozen=True)
class PriorNodule:
    """A nodule as the prior screen recorded it."""

    diameter_mm: float
    solid_diameter_mm: float
    type: NoduleType
    category: Category  # its category at the prior screen (with that screen's priors)
    # first time this nodule was seen: its size then and the days from then to the prior
    first_diameter_mm: float | None = None
    days_since_first: float = 0.0


@dataclass(frozen=True)
class Comparison:
    """One current nodule read against its prior (None: new, or no prior screen)."""

    change: Change
    prior: PriorNodule | None = None
    interval_days: float = 0.0


def _mm(value: float) -> float:
    return round(float(value) + 0.0, 1)


def _annualised(increase_mm: float, days: float) -> float:
    """Increase per 12 months: the increase itself within 12 months, else scaled to 12."""
    if days <= _DAYS_PER_12_MONTHS:
        return increase_mm
    return increase_mm * _DAYS_PER_12_MONTHS / days


def _measured(nodule: Nodule) -> float:
    """The size that growth is judged on: the solid part of a part-solid nodule."""
    if nodule.type is NoduleType.PART_SOLID:
        return _mm(min(nodule.solid_diameter_mm, nodule.diameter_mm))
    return _mm(nodule.diameter_mm)


def _prior_measured(prior: PriorNodule, as_type: NoduleType) -> float:
    if as_type is NoduleType.PART_SOLID:
        solid = prior.solid_diameter_mm if prior.type is not NoduleType.GROUND_GLASS else 0.0
        return _mm(min(solid, prior.diameter_mm))
    return _mm(prior.diameter_mm)


def classify_change(nodule: Nodule, prior: PriorNodule | None, interval_days: float, *,
                    has_prior_screen: bool) -> Change:
    """`baseline` without a prior screen, `new` without a matched prior nodule, else
    `grown` (annualised increase > 1.5 mm), `smaller` (decrease > 1.5 mm) or `stable`."""
    if not has_prior_screen:
        return Change.BASELINE
    if prior is None:
        return Change.NEW
    delta = _measured(nodule) - _prior_measured(prior, nodule.type)
    if _annualised(delta, interval_days) > GROWTH_MM:
        return Change.GROWN
    if delta < -GROWTH_MM:
        return Change.SMALLER
    return Change.STABLE


# (lower bound inclusive in mm, category), first row reached from the top wins
_NEW_SOLID = ((8.0, Category.VERY_SUSPICIOUS_4B), (6.0, Category.SUSPICIOUS_4A),
              (4.0, Category.PROBABLY_BENIGN), (0.0, Category.BENIGN))
_GROWN_SOLID = ((8.0, Category.VERY_SUSPICIOUS_4B), (0.0, Category.SUSPICIOUS_4A))
_NEW_PART_SOLID_TOTAL_BELOW = 6.0  # a new part-solid nodule under 6 mm total is 3
_PART_SOLID_BY_SOLID_PART = ((4.0, Category.VERY_SUSPICIOUS_4B),
                             (0.0, Category.SUSPICIOUS_4A))
_NEW_GROUND_GLASS = ((30.0, Category.PROBABLY_BENIGN), (0.0, Category.BENIGN))
_GROWN_GROUND_GLASS = ((0.0, Category.BENIGN),)
# stepped management: stable or smaller at follow-up
_STEP_DOWN = {Category.SUSPICIOUS_4A: Category.PROBABLY_BENIGN,
              Category.PROBABLY_BENIGN: Category.BENIGN}


def _lookup(table: tuple[tuple[float, Category], ...], size_mm: float) -> Category:
    for bound, category in table:
        if size_mm >= bound:
            return category
    return table[-1][1]


def _new(nodule: Nodule) -> Category:
    total = _mm(nodule.diameter_mm)
    if nodule.type is NoduleType.SOLID:
        return _lookup(_NEW_SOLID, total)
    if nodule.type is NoduleType.GROUND_GLASS:
        return _lookup(_NEW_GROUND_GLASS, total)
    if total < _NEW_PART_SOLID_TOTAL_BELOW:
        return Category.PROBABLY_BENIGN
    return _lookup(_PART_SOLID_BY_SOLID_PART, _measured(nodule))


def _grown(nodule: Nodule) -> Category:
    if nodule.type is NoduleType.SOLID:
        return _lookup(_GROWN_SOLID, _mm(nodule.diameter_mm))
    if nodule.type is NoduleType.GROUND_GLASS:
        return _lookup(_GROWN_GROUND_GLASS, _mm(nodule.diameter_mm))
    return _lookup(_PART_SOLID_BY_SOLID_PART, _measured(nodule))


def _slow_growth(nodule: Nodule, comparison: Comparison) -> bool:
    """A solid nodule larger by more than 1.5 mm than when first seen, over more than 12
    months, without growth in this interval (the caller checks that)."""
    prior = comparison.prior
    if prior is None or nodule.type is not NoduleType.SOLID or prior.first_diameter_mm is None:
        return False
    days = prior.days_since_first + comparison.interval_days
    return (days > _DAYS_PER_12_MONTHS
            and _mm(nodule.diameter_mm) - _mm(prior.first_diameter_mm) > GROWTH_MM)


def _unchanged(nodule: Nodule, comparison: Comparison) -> Category:
    prior = comparison.prior
    assert prior is not None  # stable and smaller always have a prior nodule
    if _slow_growth(nodule, comparison):
        return Category.VERY_SUSPICIOUS_4B
    size_now = categorize_nodule(nodule)
    size_then = categorize_nodule(Nodule(0.0, 0.0, 0.0, prior.diameter_mm,
                                         prior.solid_diameter_mm, prior.type, 1.0))
    if size_now.rank > size_then.rank:
        return size_now  # crossed a size threshold without meeting growth
    if prior.category in (Category.INCOMPLETE, Category.NEGATIVE):
        return size_now  # not a nodule category: read the nodule by its size
    return _STEP_DOWN.get(prior.category, prior.category)


def categorize_compared(nodule: Nodule, comparison: Comparison) -> Category:
    """The category of one current nodule, given how it compares with the prior."""
    change = comparison.change
    if change is Change.BASELINE:
        return categorize_nodule(nodule)
    if change is Change.NEW:
        return _new(nodule)
    if change is Change.GROWN:
        return _grown(nodule)
    if change in (Change.STABLE, Change.SMALLER):
        return _unchanged(nodule, comparison)
    raise ValueError(f"a current nodule cannot be {change.value!r}")


def categorize_round(compared: Iterable[tuple[Nodule, Comparison]], *,
                     lungs_covered: bool = True, prior_missing: bool = False) -> Category:
    """The screen's category: 0 when the lungs are not covered or an expected prior is not
    found, else its most suspicious nodule's, else 1."""
    if not lungs_covered or prior_missing:
        return Category.INCOMPLETE
    worst = Category.NEGATIVE
    for nodule, comparison in compared:
        c = categorize_compared(nodule, comparison)
        if c.rank > worst.rank:
            worst = c
    return worst
