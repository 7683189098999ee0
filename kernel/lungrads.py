"""Lung-RADS v2022 baseline-screen categories, computed from the model's nodules.

Sizes are mean diameters in mm rounded to one decimal place before comparison (ACR). The
study's category is that of its most suspicious nodule; 0 when the lungs are not covered,
1 when nothing is found. Thresholds live in one table per nodule type so a reviewer can check
them against shared/reference/lung-rads.md line by line.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from kernel.contract import Nodule, NoduleType

__all__ = ["POSITIVE_CATEGORIES", "Category", "categorize_nodule", "categorize_study"]


class Category(StrEnum):
    """Lung-RADS categories in increasing order of suspicion."""

    INCOMPLETE = "0"
    NEGATIVE = "1"
    BENIGN = "2"
    PROBABLY_BENIGN = "3"
    SUSPICIOUS_4A = "4A"
    VERY_SUSPICIOUS_4B = "4B"
    SUSPICIOUS_4X = "4X"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    @classmethod
    def parse(cls, text: str) -> Category:
        """Category from its label ("3", "4a", "4B"); ValueError names the accepted labels."""
        for c in cls:
            if c.value == text.strip().upper():
                return c
        raise ValueError(
            f"unknown Lung-RADS category {text!r}; expected one of {[c.value for c in cls]}"
        )


_ORDER = list(Category)
POSITIVE_CATEGORIES = frozenset(c for c in Category if c.rank >= Category.PROBABLY_BENIGN.rank)

# (lower bound inclusive in mm, category): the first row whose bound the size reaches, from
# the top, wins.
_SOLID = ((15.0, Category.VERY_SUSPICIOUS_4B), (8.0, Category.SUSPICIOUS_4A),
          (6.0, Category.PROBABLY_BENIGN), (0.0, Category.BENIGN))
_GROUND_GLASS = ((30.0, Category.PROBABLY_BENIGN), (0.0, Category.BENIGN))
# part-solid: by the solid part first, then by the total size
_PART_SOLID_SOLID_PART = ((8.0, Category.VERY_SUSPICIOUS_4B), (6.0, Category.SUSPICIOUS_4A))
_PART_SOLID_TOTAL = ((6.0, Category.PROBABLY_BENIGN), (0.0, Category.BENIGN))


def _lookup(table: tuple[tuple[float, Category], ...], size_mm: float) -> Category | None:
    for bound, category in table:
        if size_mm >= bound:
            return category
    return None


def _mm(value: float) -> float:
    return round(float(value) + 0.0, 1)


def categorize_nodule(nodule: Nodule) -> Category:
    """The category of one nodule from its type, mean diameter and solid-part diameter."""
    total = _mm(nodule.diameter_mm)
    if nodule.type is NoduleType.SOLID:
        return _lookup(_SOLID, total) or Category.BENIGN
    if nodule.type is NoduleType.GROUND_GLASS:
        return _lookup(_GROUND_GLASS, total) or Category.BENIGN
    solid = _mm(min(nodule.solid_diameter_mm, nodule.diameter_mm))
    by_solid = _lookup(_PART_SOLID_SOLID_PART, solid)
    if by_solid is not None:
        return by_solid
    return _lookup(_PART_SOLID_TOTAL, total) or Category.BENIGN


def categorize_study(nodules: Iterable[Nodule], *, lungs_covered: bool = True) -> Category:
    """The study's category: 0 if the lungs are not covered, else its worst nodule's, else 1."""
    if not lungs_covered:
        return Category.INCOMPLETE
    worst = Category.NEGATIVE
    for n in nodules:
        c = categorize_nodule(n)
        if c.rank > worst.rank:
            worst = c
    return worst
