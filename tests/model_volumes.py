"""Hand-built chest volumes for the detector's tests (independent of the synth generator).

A body ellipse of soft tissue in air, two ellipsoidal lungs at -850 HU, optional spheres
(nodules) and straight tubes (vessels), a little blur and noise; int16 HU, foot to head.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["BAD_INPUTS", "Chest", "Sphere", "Tube", "lung_block", "lung_corner", "make_chest"]


@dataclass(frozen=True)
class Sphere:
    centre_mm: tuple[float, float, float]  # (z, y, x) mm from the volume origin
    diameter_mm: float
    hu: float = 40.0
    core_diameter_mm: float = 0.0  # > 0: a solid core of this size (part-solid)
    core_hu: float = 40.0


@dataclass(frozen=True)
class Tube:
    start_mm: tuple[float, float, float]
    end_mm: tuple[float, float, float]
    diameter_mm: float
    hu: float = 40.0


@dataclass(frozen=True)
class Chest:
    shape: tuple[int, int, int] = (72, 128, 128)
    spacing: tuple[float, float, float] = (2.5, 2.5, 2.5)
    spheres: tuple[Sphere, ...] = ()
    tubes: tuple[Tube, ...] = ()
    noise_hu: float = 15.0
    lungs: bool = True
    seed: int = 0


def _mm_grid(c: Chest) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d, h, w = c.shape
    sz, sy, sx = c.spacing
    return np.meshgrid(np.arange(d) * sz, np.arange(h) * sy, np.arange(w) * sx, indexing="ij")


def make_chest(c: Chest, background: float | None = None) -> np.ndarray:
    """The int16 HU volume described by `c` (`background`: a uniform block instead)."""
    z, y, x = _mm_grid(c)
    d, h, w = c.shape
    cz, cy, cx = (d - 1) * c.spacing[0] / 2, (h - 1) * c.spacing[1] / 2, (w - 1) * c.spacing[2] / 2
    hu = np.full(c.shape, -1000.0 if background is None else background)
    if background is None:
        body = (((y - cy) / (0.42 * h * c.spacing[1])) ** 2
                + ((x - cx) / (0.47 * w * c.spacing[2])) ** 2)
        hu[body <= 1] = 40.0
    if c.lungs:
        for side in (-1, 1):
            lx = cx + side * 0.2 * w * c.spacing[2]
            lung = (((z - cz) / (0.42 * d * c.spacing[0])) ** 2
                    + ((y - cy) / (0.3 * h * c.spacing[1])) ** 2
                    + ((x - lx) / (0.16 * w * c.spacing[2])) ** 2)
            hu[lung <= 1] = -850.0
    edge = float(np.cbrt(np.prod(c.spacing)))
    for t in c.tubes:
        a, b = np.asarray(t.start_mm), np.asarray(t.end_mm)
        ab = b - a
        pts = np.stack([z, y, x], -1)
        s = np.clip(((pts - a) @ ab) / float(ab @ ab), 0, 1)
        _paint(hu, np.linalg.norm(pts - (a + s[..., None] * ab), axis=-1), t.diameter_mm / 2,
               t.hu, edge)
    for s in c.spheres:
        r = np.sqrt((z - s.centre_mm[0]) ** 2 + (y - s.centre_mm[1]) ** 2
                    + (x - s.centre_mm[2]) ** 2)
        _paint(hu, r, s.diameter_mm / 2, s.hu, edge)
        if s.core_diameter_mm > 0:
            _paint(hu, r, s.core_diameter_mm / 2, s.core_hu, edge)
    return _scanned(hu, c.noise_hu, c.seed)


def _paint(hu: np.ndarray, dist: np.ndarray, radius: float, value: float, edge: float) -> None:
    """Paint `value` where `dist` (mm) < `radius`, in place, with partial volume: the share of
    a voxel inside the surface, linear across one voxel (`edge` mm)."""
    f = np.clip(0.5 - (dist - radius) / edge, 0.0, 1.0)
    hu[...] = hu + f * (value - hu)


def _scanned(hu: np.ndarray, noise_hu: float, seed: int) -> np.ndarray:
    """`hu` as a scanner gives it: a little blur and noise, int16."""
    hu = ndimage.gaussian_filter(hu, 0.4)
    hu += np.random.default_rng(seed).normal(0.0, noise_hu, hu.shape)
    return np.clip(np.round(hu), -1024, 3000).astype(np.int16)


def lung_block(shape: tuple[int, int, int], spacing: tuple[float, float, float],
               spheres: tuple[Sphere, ...] = (), tubes: tuple[Tube, ...] = (),
               noise_hu: float = 15.0, seed: int = 0) -> np.ndarray:
    """A block of lung parenchyma (no body, no air) with spheres and tubes; int16 HU."""
    c = Chest(shape=shape, spacing=spacing, spheres=spheres, tubes=tubes, noise_hu=noise_hu,
              lungs=False, seed=seed)
    return make_chest(c, background=-850.0)


def lung_corner(diameter_mm: float, gap_mm: float, angle_deg: float,
                spacing: tuple[float, float, float] = (2.0, 1.5, 1.5),
                shape: tuple[int, int, int] = (40, 100, 100),
                seed: int = 0) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Soft tissue around a lung that ends in a corner of `angle_deg` (in the axial plane,
    the same on every slice), a solid sphere in the corner touching one wall, `gap_mm` from
    the other; int16 HU and the sphere's centre (mm)."""
    z, y, x = np.meshgrid(*(np.arange(n) * s for n, s in zip(shape, spacing, strict=True)),
                          indexing="ij")
    y0, x0 = 72.0, 120.0  # the corner; the lung opens towards -x
    a = np.deg2rad(angle_deg / 2)
    n1, n2 = (np.cos(a), np.sin(a)), (-np.cos(a), np.sin(a))
    d1 = (y - y0) * n1[0] + (x - x0) * n1[1]
    d2 = (y - y0) * n2[0] + (x - x0) * n2[1]
    # signed distance to the lung's surface (negative inside), bounded away from the edges
    sd = np.maximum.reduce([d1, d2, 20.0 - x, np.abs(y - y0) - 55.0])
    edge = float(np.cbrt(np.prod(spacing)))
    hu = np.full(shape, 40.0)
    _paint(hu, sd, 0.0, -850.0, edge)
    r = diameter_mm / 2
    cy, cx = np.linalg.solve(np.array([n1, n2]), np.array([-r, -(r + gap_mm)])) + np.array([y0, x0])
    cz = shape[0] * spacing[0] / 2
    dist = np.sqrt((z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2)
    _paint(hu, dist, r, 40.0, edge)
    return _scanned(hu, 15.0, seed), (cz, float(cy), float(cx))


# Requests every contract-v1 model must refuse: (volume, spacing, words of the error).
BAD_INPUTS = {
    "float-volume": (np.zeros((20, 64, 64), np.float32), [1.0, 1.0, 1.0], "INT16"),
    "2d-volume": (np.zeros((64, 64), np.int16), [1.0, 1.0, 1.0], "shape"),
    "nan-spacing": (np.zeros((20, 64, 64), np.int16), [1.0, float("nan"), 1.0], "spacing"),
    "absurd-spacing": (np.zeros((20, 64, 64), np.int16), [1.0, 1.0, 250.0], "spacing"),
    "too-few-slices": (np.zeros((3, 64, 64), np.int16), [1.0, 1.0, 1.0], "slices"),
    "two-spacings": (np.zeros((20, 64, 64), np.int16), [1.0, 1.0], "SPACING"),
    "all-air": (np.full((20, 64, 64), -1000, np.int16), [1.0, 1.0, 1.0], "lungs not covered"),
}
