"""Merging scored candidates that are one object: greedy suppression by probability.

Candidate finding reports one blob per scale and place, so a large nodule also yields blobs
on its rim (just outside its radius) and at neighbouring scales. Ranked by the network's
probability, a candidate whose centre lies within `factor` times a more probable kept
candidate's radius (at least `min_mm`) is a duplicate of it and is dropped. The detector's
ranked output (FROC) is the kept list; reported findings are measured and merged again by
their measured size (models.detection.pipeline).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["suppress_duplicates"]


def suppress_duplicates(centres_mm: npt.NDArray[np.float64], radius_mm: npt.NDArray[np.float64],
                        prob: npt.NDArray[np.float64], factor: float = 1.5,
                        min_mm: float = 3.0) -> npt.NDArray[np.int64]:
    """Indices of the kept candidates, most probable first (see the module doc)."""
    order = np.argsort(-prob, kind="stable")
    alive = np.ones(order.size, dtype=bool)
    c = centres_mm[order]
    reach = np.maximum(factor * radius_mm[order], min_mm)
    keep: list[int] = []
    for i in range(order.size):
        if not alive[i]:
            continue
        keep.append(i)
        dist = np.linalg.norm(c - c[i], axis=1)
        alive &= dist >= reach[i]
    return order[np.asarray(keep, dtype=np.int64)]
