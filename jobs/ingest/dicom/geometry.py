"""Slice geometry from ImageOrientationPatient / ImagePositionPatient.

Everything here is computed from orientation and position vectors, never from tags that
describe geometry nominally (SliceThickness, SpacingBetweenSlices, GantryDetectorTilt,
ImageType AXIAL), which scanners and reformatting tools often leave wrong.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["Vec3", "normal", "project", "tilt_degrees"]

Vec3 = tuple[float, float, float]


def normal(orientation: Sequence[float]) -> Vec3 | None:
    """Unit normal of the image plane: row direction x column direction.

    Returns None when the six values do not describe two non-parallel directions.
    """
    if len(orientation) != 6 or not all(math.isfinite(v) for v in orientation):
        return None
    r = orientation[:3]
    c = orientation[3:]
    n = (
        r[1] * c[2] - r[2] * c[1],
        r[2] * c[0] - r[0] * c[2],
        r[0] * c[1] - r[1] * c[0],
    )
    length = math.sqrt(sum(v * v for v in n))
    if length < 1e-3:
        return None
    return (n[0] / length, n[1] / length, n[2] / length)


def tilt_degrees(n: Vec3) -> float:
    """Angle between the plane normal and the patient's head-foot (z) axis, 0..90 degrees."""
    return math.degrees(math.acos(min(1.0, abs(n[2]))))


def project(position: Sequence[float], n: Vec3) -> float:
    """Distance of a slice along the normal, signed so that larger means nearer the head."""
    d = position[0] * n[0] + position[1] * n[1] + position[2] * n[2]
    return d if n[2] >= 0 else -d
