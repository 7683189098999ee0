"""The prior's pixels at hand: its nodule centres in the current scan's mm, and both scans for
measuring matched nodules side by side.

Used where the prior's pixels are still in its sources (jobs.rounds.prior_pixels): the prior
volume is loaded, both lungs registered (jobs.rounds.registration: rigid plus a z scale, in
torch, on the GPU where there is one) and each prior finding's centre mapped. A poor fit
maps nothing (the reading then matches in the lung-relative frame, as without pixels) but
keeps the scans for measuring side by side (jobs.rounds.side_by_side); a prior that will not
load, or volumes without lungs, give None.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from kernel.rounds import PriorScreen

if TYPE_CHECKING:
    from jobs.rounds.side_by_side import SideBySide

__all__ = ["MIN_QUALITY", "PriorPixels", "register_prior"]

log = logging.getLogger("jobs")

MIN_QUALITY = 0.97
"""Registrations whose lung-mask Dice is lower are not trusted (on synthetic follow-ups good
fits scored 0.986-0.995 and broken ones 0.95-0.96; not validated on real scans)."""

Volume = tuple[npt.NDArray[np.int16], tuple[float, float, float]]


@dataclass(frozen=True)
class PriorPixels:
    """`centres`: one per prior finding, in the current volume's mm (None: the fit was
    poor); `beside`: both scans, for measuring matched nodules again side by side."""

    centres: list[tuple[float, float, float]] | None
    beside: SideBySide


def register_prior(prior: PriorScreen, hu: npt.NDArray[np.int16],
                 spacing: tuple[float, float, float], load_prior: Callable[[], Volume]
                 ) -> PriorPixels | None:
    """The prior's pixels registered to this volume, or None (see the module doc)."""
    if not prior.findings or any(f.voxel is None for f in prior.findings):
        return None
    from jobs.rounds.registration import register_lungs  # torch: only when registering
    from jobs.rounds.side_by_side import Scan, SideBySide  # torch, as the line above

    try:
        prior_hu, prior_spacing = load_prior()
    except Exception as exc:  # a decoder may raise anything; matching goes on without pixels
        log.debug("prior volume did not load (%s): matching without registration",
                  type(exc).__name__)
        return None
    fit = register_lungs(hu, spacing, prior_hu, prior_spacing)
    if fit is None:
        return None
    now, then = fit.lungs if fit.lungs is not None else (None, None)
    beside = SideBySide(Scan(hu, spacing, now), Scan(prior_hu, prior_spacing, then))
    if fit.quality < MIN_QUALITY:
        return PriorPixels(None, beside)
    sp = np.asarray(prior_spacing, dtype=np.float64)
    points = np.asarray([f.voxel for f in prior.findings], dtype=np.float64) * sp
    mapped = fit.to_current(points)
    return PriorPixels([(float(p[0]), float(p[1]), float(p[2])) for p in mapped], beside)
