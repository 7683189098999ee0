"""Benign things that look a little like nodules: scars and bands of plate atelectasis.

A scar is a short, crooked, thick strand running from the pleura into an upper lobe; a
band is a thin plate, a few mm thick and a few cm long, lying roughly horizontally in a
lower lobe. Both are drawn as soft tissue with partial volume and
reported as keep-out spheres so that no nodule is placed on one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from synth_varied.patient import Patient
from synth_varied.torso import inside_lung
from synth_varied.tubes import Tubes

__all__ = ["Band", "Mimics", "add_bands", "draw_mimics"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Band:
    """A plate: centre, unit normal, in-plane half lengths, thickness (mm), HU."""

    centre: F64
    normal: F64
    long_axis: F64
    half: tuple[float, float]
    thickness: float
    hu: float


@dataclass(frozen=True)
class Mimics:
    scars: Tubes
    scar_hu: float
    bands: tuple[Band, ...]
    keep_out: tuple[tuple[F64, float], ...]  # (centre, radius) nodules stay clear of


def _lung_point(rng: np.random.Generator, pat: Patient, t_range: tuple[float, float]) -> F64:
    for _ in range(200):
        side = float(rng.choice([-1.0, 1.0]))
        p = np.array([rng.uniform(*t_range) * pat.lung_height,
                      rng.uniform(-0.9, 0.9) * pat.lung_by,
                      side * (pat.med_w + rng.uniform(0.1, 1.9) * pat.lung_ax)])
        if inside_lung(pat, p[0], p[1], p[2]):
            return p
    return np.array([0.5 * pat.lung_height, 0.0, pat.lung_cx])


def _to_pleura(pat: Patient, p: F64, d: F64) -> F64:
    """The last point inside the lung walking from `p` along `d`."""
    q = p.copy()
    for _ in range(300):
        n = q + d
        if not inside_lung(pat, n[0], n[1], n[2]):
            break
        q = n
    return q


def draw_mimics(rng: np.random.Generator, pat: Patient) -> Mimics:
    p0s, p1s, r0s, r1s, keep = [], [], [], [], []
    for _ in range(pat.scars):
        start = _lung_point(rng, pat, (0.55, 0.95))
        out = np.array([0.0, rng.uniform(-1, 1), np.sign(start[2])])
        edge = _to_pleura(pat, start, out / np.linalg.norm(out))
        d = -(out / np.linalg.norm(out))
        p = edge
        for _k in range(int(rng.integers(2, 5))):
            d = d + rng.normal(0.0, 0.5, 3)
            d /= np.linalg.norm(d)
            q = p + d * rng.uniform(4.0, 9.0)
            r = float(rng.uniform(0.8, 2.2))
            p0s.append(p)
            p1s.append(q)
            r0s.append(r)
            r1s.append(r * rng.uniform(0.5, 1.0))
            keep.append(((p + q) / 2.0, float(np.linalg.norm(q - p)) / 2.0 + r + 4.0))
            p = q
    scars = Tubes(np.array(p0s).reshape(-1, 3), np.array(p1s).reshape(-1, 3),
                  np.array(r0s), np.array(r1s))
    bands = []
    for _ in range(pat.bands):
        c = _lung_point(rng, pat, (0.12, 0.4))
        normal = np.array([1.0, rng.normal(0, 0.3), rng.normal(0, 0.3)])
        normal /= np.linalg.norm(normal)
        long_axis = np.cross(normal, [0.0, 0.0, 1.0])
        long_axis /= max(float(np.linalg.norm(long_axis)), 1e-9)
        half = (float(rng.uniform(10.0, 25.0)), float(rng.uniform(3.0, 8.0)))
        bands.append(Band(c, normal, long_axis, half, float(rng.uniform(1.5, 4.0)),
                          float(rng.uniform(-250.0, 20.0))))
        keep.append((c, half[0] + 5.0))
    return Mimics(scars, float(rng.uniform(-80.0, 40.0)), tuple(bands), tuple(keep))


def add_bands(hu: F32, lung: npt.NDArray[np.bool_], bands: tuple[Band, ...],
              z: F64, y: F64, x: F64, edge: float) -> None:
    """Draw the plates into the slab `hu` (grid z [Z,1,1], y [1,Y,1], x [1,1,X]) in place."""
    for b in bands:
        reach = b.half[0] + b.thickness + edge
        near = ((np.abs(z - b.centre[0]) < reach) & (np.abs(y - b.centre[1]) < reach)
                & (np.abs(x - b.centre[2]) < reach) & lung)
        k, j, i = np.nonzero(near)
        if not k.size:
            continue
        rel = (z.ravel()[k] - b.centre[0], y.ravel()[j] - b.centre[1], x.ravel()[i] - b.centre[2])
        across = sum(r * n for r, n in zip(rel, b.normal, strict=True))
        along = sum(r * a for r, a in zip(rel, b.long_axis, strict=True))
        width_axis = np.cross(b.normal, b.long_axis)
        wide = sum(r * w for r, w in zip(rel, width_axis, strict=True))
        inplane = (along / b.half[0]) ** 2 + (wide / b.half[1]) ** 2
        f = np.clip(0.5 - (np.abs(across) - b.thickness / 2.0) / edge, 0.0, 1.0) * (inplane < 1.0)
        hu[k, j, i] += f.astype(np.float32) * (np.float32(b.hu) - hu[k, j, i])
