"""The noisy measurement: discrete Gaussian noise on a vector of counts, by OpenDP, with
OpenDP's own zero-concentrated DP accounting.

One person adds or removes one result, which changes one count of each of the F query
families (jobs.release.marginals) at each of the L levels of the geography tree by 1: the L2
sensitivity is sqrt(L x F). For a budget rho per increment, sigma is sqrt(L F / (2 rho))
(rho = Delta^2 / (2 sigma^2)); the measurement is built with that sigma and
`map(sqrt(L F))`, OpenDP's accounting, must give back rho, or nothing is measured.
The noise comes from OpenDP's exact sampler over the system's secure randomness: it is never
seeded, and no draw is kept apart from the counts it went into.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import opendp.prelude as dp

from kernel.errors import BadInput, PermanentError

__all__ = ["MECHANISM", "NoisyCounts", "noisy_counts", "sigma_for"]

MECHANISM = "discrete_gaussian"


@dataclass(frozen=True)
class NoisyCounts:
    """Counts with noise added, and how: sigma, the sensitivity and rho (as asked for, and
    as OpenDP accounts it to within 1e-9: it reads 0.15 as 0.14999999999999997)."""

    values: list[int]
    sigma: float
    sensitivity: float
    rho: float


def sigma_for(rho: float, levels: int, families: int = 1) -> float:
    """The noise scale that spends `rho` (zCDP) on one person changing one count of each
    family at each level."""
    if not (math.isfinite(rho) and rho > 0):
        raise BadInput(f"rho {rho!r}: expected a positive number (e.g. 0.15)")
    if levels < 1 or families < 1:
        raise ValueError(f"levels {levels}, families {families}: expected at least 1 each")
    return math.sqrt(levels * families / (2.0 * rho))


def _gaussian(sigma: float) -> Any:
    dp.enable_features("contrib")
    space = dp.vector_domain(dp.atom_domain(T=int)), dp.l2_distance(T=float)
    return dp.m.make_gaussian(*space, scale=sigma)


def noisy_counts(counts: Sequence[int], *, rho: float, levels: int,
                 families: int = 1) -> NoisyCounts:
    """`counts` (one vector: every family of every level of one increment) with discrete
    Gaussian noise spending `rho` for a person counted once per family and level.
    PermanentError if OpenDP accounts a different rho than asked for (nothing is returned
    then)."""
    sigma = sigma_for(rho, levels, families)
    sensitivity = math.sqrt(levels * families)
    measurement = _gaussian(sigma)
    accounted = float(measurement.map(sensitivity))
    if not math.isclose(accounted, rho, rel_tol=1e-9):
        raise PermanentError(f"OpenDP accounts rho {accounted!r} for sigma {sigma!r} over "
                             f"{levels} levels x {families} families, not the {rho!r} asked "
                             "for; nothing measured")
    values = [int(v) for v in measurement([int(c) for c in counts])]
    return NoisyCounts(values, sigma, sensitivity, rho)
