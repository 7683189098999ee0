"""Checks on a volume before the model runs.

A volume that does not cover the lungs raises `kernel.errors.LungsNotCovered`, a
`BadInput` with `reason = Reason.INCOMPLETE_LUNG_COVERAGE`: Lung-RADS category 0 applies
(`categorize_study(..., lungs_covered=False)`). Over Triton its message starts with
"lungs not covered:" so a client can tell it from other bad input.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kernel.errors import BadInput, LungsNotCovered

__all__ = [
    "MAX_SPACING_MM",
    "MIN_INPLANE",
    "MIN_SLICES",
    "check_volume",
]

MIN_SLICES = 16
MIN_INPLANE = 64
MAX_SPACING_MM = 10.0


def check_volume(volume: Any, spacing: Any) -> tuple[float, float, float]:
    """Raise BadInput unless `volume` is an int16 [D, H, W] HU array with sane `spacing`.

    Returns the spacing as a (z, y, x) tuple of floats.
    """
    if not isinstance(volume, np.ndarray):
        raise BadInput(f"volume must be a numpy array, got {type(volume).__name__}")
    if volume.dtype != np.int16:
        raise BadInput(f"volume dtype must be int16 (Hounsfield units), got {volume.dtype}; "
                       "convert the rescaled pixel data with astype(np.int16)")
    if volume.ndim != 3:
        raise BadInput(f"volume must have 3 dimensions [D, H, W], got shape {list(volume.shape)}")
    d, h, w = volume.shape
    if d < MIN_SLICES:
        raise BadInput(f"volume has {d} slices; the model needs at least {MIN_SLICES}")
    if h < MIN_INPLANE or w < MIN_INPLANE:
        raise BadInput(f"volume slices are {h}x{w}; the model needs at least "
                       f"{MIN_INPLANE}x{MIN_INPLANE}")
    try:
        sp = tuple(float(s) for s in np.asarray(spacing, dtype=np.float64).ravel())
    except (TypeError, ValueError) as exc:
        raise BadInput(f"spacing must be three numbers (z, y, x) in mm, got {spacing!r}") from exc
    if len(sp) != 3:
        raise BadInput(f"spacing must be three numbers (z, y, x) in mm, got {len(sp)}")
    for axis, s in zip("zyx", sp, strict=True):
        if not math.isfinite(s) or s <= 0 or s > MAX_SPACING_MM:
            raise BadInput(f"spacing {axis} = {s} mm is not usable; expected a voxel size in "
                           f"(0, {MAX_SPACING_MM}] mm")
    if int(volume.max()) < -500:
        raise LungsNotCovered("the volume holds only air (max below -500 HU)")
    return (sp[0], sp[1], sp[2])
