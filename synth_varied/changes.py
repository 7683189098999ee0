"""What happens to a person's nodules between two scans of the varied family, planned.

Each prior nodule gets a fate: grown past Lung-RADS' 1.5 mm line, grown but short of it,
stable, smaller, or resolved. A fate is a band of measured growth (mm) the rendering must
land in, and a growth to aim at inside it; ground-glass nodules grow slowly and seldom
resolve, so they get other shares. A person also gets a few new nodules, mostly small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kernel.contract import NoduleType

__all__ = ["Fate", "NewLesion", "draw_fates", "draw_new"]

# fate -> (band of measured growth, mm, inclusive; growth aimed at is drawn within `aim`)
_BANDS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "grown_past": ((1.6, 8.0), (1.8, 5.0)),
    "grown_near": ((0.5, 1.4), (0.7, 1.3)),  # growing, not yet by the rules
    "stable": ((-0.3, 0.3), (-0.1, 0.1)),
    "smaller": ((-5.0, -0.5), (-3.0, -0.8)),
    "resolved": ((0.0, 0.0), (0.0, 0.0)),
}
_FATES = tuple(_BANDS)
_SHARES = {"solid": (0.15, 0.15, 0.4, 0.12, 0.18), "part_solid": (0.2, 0.2, 0.4, 0.1, 0.1),
           "ground_glass": (0.05, 0.22, 0.6, 0.07, 0.06)}
# new nodules: how many, their kinds, and diameter bins (share, lo, hi mm)
_NEW_COUNT = (0.5, 0.35, 0.15)
_NEW_KINDS = (0.72, 0.1, 0.18)
_NEW_SIZES = ((0.35, 2.5, 4.0), (0.3, 4.0, 6.0), (0.2, 6.0, 8.0), (0.15, 8.0, 16.0))


@dataclass(frozen=True)
class Fate:
    """A prior nodule in the next scan: its fate, the growth aimed at and its band."""

    nodule_id: str
    number: int
    fate: str  # one of _BANDS
    aim_mm: float  # growth aimed at
    band: tuple[float, float]  # measured growth the rendering must land in
    prior_diameter_mm: float
    prior_solid_diameter_mm: float
    prior_centre_lps_mm: tuple[float, float, float]

    @property
    def resolved(self) -> bool:
        return self.fate == "resolved"


@dataclass(frozen=True)
class NewLesion:
    """A nodule the prior scan did not have: its number, kind and planned diameter."""

    number: int
    kind: NoduleType
    size_mm: float


def draw_fates(rng: np.random.Generator, nodules: Sequence[dict[str, Any]]) -> list[Fate]:
    """One fate per prior truth nodule (its `nodule_id` "<person>-<number>")."""
    out = []
    for n in nodules:
        shares = np.asarray(_SHARES.get(str(n["type"]), _SHARES["solid"]))
        fate = _FATES[int(rng.choice(len(_FATES), p=shares / shares.sum()))]
        band, aim = _BANDS[fate]
        growth = round(float(rng.uniform(*aim)), 1)
        before = float(n["diameter_mm"])
        if fate == "smaller" and before + growth < max(2.5, 0.6 * before):
            fate, growth = "stable", 0.0  # too small to shrink visibly
            band = _BANDS["stable"][0]
        out.append(Fate(str(n["nodule_id"]), int(str(n["nodule_id"]).rsplit("-", 1)[1]), fate,
                        growth, band, before, float(n["solid_diameter_mm"]),
                        tuple(float(v) for v in n["centre_lps_mm"])))  # type: ignore[arg-type]
    return out


def draw_new(rng: np.random.Generator, first_number: int) -> list[NewLesion]:
    """The new nodules of a later scan, numbered from `first_number`."""
    count = int(rng.choice(len(_NEW_COUNT), p=_NEW_COUNT))
    shares = np.asarray([s[0] for s in _NEW_SIZES])
    out = []
    for k in range(count):
        _, lo, hi = _NEW_SIZES[int(rng.choice(len(_NEW_SIZES), p=shares))]
        size = round(float(rng.uniform(lo, hi)), 1)
        kind = NoduleType(int(rng.choice(3, p=_NEW_KINDS)))
        if kind is NoduleType.PART_SOLID and size < 6.0:
            kind = NoduleType.SOLID  # a solid core needs room
        out.append(NewLesion(first_number + k, kind, size))
    return out
