"""The lungs among a volume's air: torch-free, so the threshold test model
(models.detection.threshold) and the reference lung mask (models.detection.lungmask) share
it without the test model loading torch."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

__all__ = ["keep_lungs"]


def keep_lungs(air: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """The one or two largest air components not touching the in-plane border (the
    second kept when at least 15% of the first): the lungs."""
    labels, n = ndimage.label(air)
    if n == 0:
        return np.zeros_like(air)
    border = np.unique(np.concatenate([
        labels[:, 0, :].ravel(), labels[:, -1, :].ravel(),
        labels[:, :, 0].ravel(), labels[:, :, -1].ravel(),
    ]))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    sizes[border] = 0
    order = np.argsort(sizes)[::-1]
    keep = [int(order[0])] if sizes[order[0]] > 0 else []
    if n > 1 and sizes[order[1]] > 0 and sizes[order[1]] >= 0.15 * sizes[order[0]]:
        keep.append(int(order[1]))
    return np.isin(labels, keep) if keep else np.zeros_like(air)
