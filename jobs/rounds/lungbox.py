"""The lungs' bounding box of a CT volume, cheaply: the frame two screens are matched in.

Air below -400 HU on a grid of about 4 mm, without the air outside the body (components that
touch the edge of an axial slice), keeping the large components (the lungs, joined or not by
the airways; bowel gas and small pockets are dropped). A few milliseconds per study on the
CPU: no second model pass.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from kernel.rounds import LungBox

__all__ = ["lung_box"]

_AIR_HU = -400
_GRID_MM = 4.0
_KEEP_FRACTION = 0.2  # components at least this share of the largest are lung
_MIN_LUNG_ML = 50.0


def lung_box(hu: npt.NDArray[np.int16], spacing: tuple[float, float, float]) -> LungBox | None:
    """The lungs' box, mm from the first voxel (slices foot to head), or None when the
    volume shows no lungs."""
    step = tuple(max(1, round(_GRID_MM / float(s))) for s in spacing)
    coarse = hu[:: step[0], :: step[1], :: step[2]] < _AIR_HU
    labels, count = ndimage.label(coarse)
    if count == 0:
        return None
    edge = np.zeros_like(coarse)
    edge[:, 0, :] = edge[:, -1, :] = edge[:, :, 0] = edge[:, :, -1] = True
    outside = np.unique(labels[edge & coarse])
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    sizes[outside] = 0
    voxel_ml = float(np.prod([s * k for s, k in zip(spacing, step, strict=True)])) / 1000.0
    if sizes.max() * voxel_ml < _MIN_LUNG_ML:
        return None
    keep = np.flatnonzero(sizes >= _KEEP_FRACTION * sizes.max())
    idx = np.argwhere(np.isin(labels, keep))
    low = idx.min(axis=0) * np.asarray(step) * np.asarray(spacing)
    high = (idx.max(axis=0) + 1) * np.asarray(step) * np.asarray(spacing)
    return LungBox((float(low[0]), float(low[1]), float(low[2])),
                   (float(high[0]), float(high[1]), float(high[2])))
