"""The prior's nodule centres in the current scan's mm, by registering the two scans.

Used where the prior's pixels are still in its sources (jobs.rounds.prior_pixels): the prior
volume is loaded, both lungs registered (jobs.rounds.registration: rigid plus a z scale, in
torch, on the GPU where there is one) and each prior finding's centre mapped. Anything that
goes wrong (the prior will not load, no lungs, a poor fit) gives None: the reading then
matches in the lung-relative frame, as without pixels.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from kernel.rounds import PriorScreen

__all__ = ["MIN_QUALITY", "prior_centres"]

log = logging.getLogger("jobs")

MIN_QUALITY = 0.97
"""Registrations whose lung-mask Dice is lower are not trusted (on synthetic follow-ups good
fits scored 0.986-0.995 and broken ones 0.95-0.96; not validated on real scans)."""

Volume = tuple[npt.NDArray[np.int16], tuple[float, float, float]]


def prior_centres(prior: PriorScreen, hu: npt.NDArray[np.int16],
                  spacing: tuple[float, float, float], load_prior: Callable[[], Volume]
                  ) -> list[tuple[float, float, float]] | None:
    """One centre per prior finding, in this volume's mm, or None (see the module doc)."""
    if not prior.findings or any(f.voxel is None for f in prior.findings):
        return None
    from jobs.rounds.registration import register_lungs  # torch: only when registering

    try:
        prior_hu, prior_spacing = load_prior()
    except Exception as exc:  # a decoder may raise anything; matching goes on without pixels
        log.debug("prior volume did not load (%s): matching without registration",
                  type(exc).__name__)
        return None
    fit = register_lungs(hu, spacing, prior_hu, prior_spacing)
    if fit is None or fit.quality < MIN_QUALITY:
        return None
    sp = np.asarray(prior_spacing, dtype=np.float64)
    points = np.asarray([f.voxel for f in prior.findings], dtype=np.float64) * sp
    mapped = fit.to_current(points)
    return [(float(p[0]), float(p[1]), float(p[2])) for p in mapped]
