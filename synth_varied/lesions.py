"""Nodule shapes: lobulated, stretched, turned ellipsoids; measurement and rendering.

A shape is an implicit surface: a point p is inside when |q| < 1 + bumps(q / |q|), where
q = Rᵀ(p - centre) / axes. Lobulation is a few smooth bumps on the sphere. The Lung-RADS
diameter is measured on the shape itself: on each axial slice plane of the scan, the cut
is sampled on a fine grid, its long axis is the largest distance across it and its short
axis the widest extent perpendicular to that; the diameter is the mean of the two on the
plane where that mean is largest.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import ConvexHull, QhullError

__all__ = ["Shape", "fit_size", "fraction", "measure", "random_shape"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Shape:
    centre: F64  # patient mm (z, y, x)
    rotation: F64  # 3 x 3, columns are the shape's axes in patient (z, y, x)
    axes: F64  # semi-axes, mm
    bump_dirs: F64  # [K, 3] unit vectors in the shape's frame
    bump_size: F64  # [K]
    bump_width: F64  # [K]

    def scaled(self, factor: float) -> Shape:
        return dataclasses.replace(self, axes=self.axes * factor)

    def moved(self, centre: F64) -> Shape:
        return dataclasses.replace(self, centre=np.asarray(centre, dtype=np.float64))

    @property
    def reach(self) -> float:
        """A radius (mm) the whole shape lies within."""
        return float(self.axes.max() * (1.0 + self.bump_size.sum()))

    def level(self, pts: F64) -> F64:
        """|q| / (1 + bumps): below 1 inside, above outside; pts [..., 3] mm."""
        q = ((pts - self.centre) @ self.rotation) / self.axes
        n = np.linalg.norm(q, axis=-1)
        u = q / np.maximum(n, 1e-9)[..., None]
        bumps = np.zeros(n.shape)
        for d, s, w in zip(self.bump_dirs, self.bump_size, self.bump_width, strict=True):
            bumps += s * np.exp(-(1.0 - u @ d) / w)
        out: F64 = n / (1.0 + bumps)
        return out


def random_shape(rng: np.random.Generator, centre: F64, lobulation: float) -> Shape:
    """A shape of about 1 mm radius at `centre`; `lobulation` 0 (smooth) .. 1."""
    a = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    axes = np.array([rng.uniform(0.75, 1.15), rng.uniform(0.8, 1.25), 1.0])
    k = int(rng.integers(0, 6)) if lobulation > 0 else 0
    dirs = rng.normal(size=(k, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    return Shape(np.asarray(centre, dtype=np.float64), a, axes, dirs,
                 lobulation * rng.uniform(0.05, 0.3, k), rng.uniform(0.08, 0.3, k))


def _axes_2d(pts: F64, step: float) -> tuple[float, float]:
    """Long axis and the perpendicular short axis (mm) of a 2-D point set on a `step` grid."""
    if len(pts) < 3:
        return (step, step) if len(pts) else (0.0, 0.0)
    try:
        hull = pts[ConvexHull(pts).vertices]
    except QhullError:
        hull = pts
    d = np.linalg.norm(hull[:, None, :] - hull[None, :, :], axis=-1)
    i, j = np.unravel_index(int(np.argmax(d)), d.shape)
    u = (hull[j] - hull[i]) / max(float(d[i, j]), 1e-9)
    proj = hull @ np.array([-u[1], u[0]])
    return float(d[i, j]) + step, float(proj.max() - proj.min()) + step


def measure(shape: Shape, planes: F64) -> float:
    """Lung-RADS diameter (mm) of `shape` over the axial slice planes `planes` (patient z)."""
    reach = shape.reach
    near = planes[np.abs(planes - shape.centre[0]) < reach]
    step = max(0.05, reach / 40.0)
    g = np.arange(-reach, reach + step / 2, step)
    yy, xx = np.meshgrid(g + shape.centre[1], g + shape.centre[2], indexing="ij")
    best = 0.0
    for z in near:
        pts = np.stack([np.full(yy.shape, z), yy, xx], axis=-1)
        inside = shape.level(pts) < 1.0
        if not inside.any():
            continue
        long_axis, short_axis = _axes_2d(np.stack([yy[inside], xx[inside]], axis=1), step)
        best = max(best, 0.5 * (long_axis + short_axis))
    return round(best, 1)


def fit_size(shape: Shape, target_mm: float, planes: F64) -> tuple[Shape, float]:
    """`shape` scaled so that its measured diameter is `target_mm` as near as the slice
    planes allow, and that diameter."""
    factor = target_mm / 2.0
    got = measure(shape.scaled(factor), planes)
    for _ in range(5):
        if got <= 0.0:
            factor *= 1.5
        elif abs(got - target_mm) < 0.1:
            break
        else:
            factor *= target_mm / got
        got = measure(shape.scaled(factor), planes)
    return shape.scaled(factor), got


def fraction(shape: Shape, pts: F64, edge: float) -> F64:
    """Partial-volume fraction of `shape` at points [..., 3] (mm) for voxels of `edge` mm."""
    level = shape.level(pts)
    radius = float(np.cbrt(shape.axes.prod()))
    out: F64 = np.clip(0.5 - (level - 1.0) * radius / edge, 0.0, 1.0)
    return out
