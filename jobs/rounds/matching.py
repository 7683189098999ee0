"""Matching a screen's nodules to the prior's, in the lung-relative frame (kernel.rounds).

The cost of a pair is their distance in mm once both are placed in the current lung box;
the assignment minimising the total cost (scipy's Hungarian solver) is kept where a pair is
closer than `MATCH_MM` plus half the larger diameter. Each current nodule gets at most one
prior nodule and each prior nodule at most one current one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["MATCH_MM", "match"]

MATCH_MM = 12.0


def match(current: Sequence[tuple[float, float, float]], current_mm: Sequence[float],
          prior: Sequence[tuple[float, float, float]], prior_mm: Sequence[float],
          box_size: tuple[float, float, float]) -> dict[int, int]:
    """Current nodule index -> prior nodule index, for the pairs that match. Positions are
    lung-relative (0..1 per axis); `*_mm` are the nodules' diameters; `box_size` (mm) places
    both in the current lungs."""
    if not current or not prior:
        return {}
    scale = np.asarray(box_size, dtype=np.float64)
    a = np.asarray(current, dtype=np.float64) * scale
    b = np.asarray(prior, dtype=np.float64) * scale
    cost = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)
    limit = MATCH_MM + 0.5 * np.maximum(np.asarray(current_mm)[:, None],
                                        np.asarray(prior_mm)[None, :])
    rows, cols = linear_sum_assignment(np.where(cost <= limit, cost, 1e6))
    return {int(r): int(c) for r, c in zip(rows, cols, strict=True) if cost[r, c] <= limit[r, c]}
