"""What changes the lung tissue itself: fissures and emphysema.

Fissures are planes through the hilum (an oblique one in each lung, a horizontal one in
the right), drawn as thin sheets with partial volume, and only where the patient's
fissures are complete. Emphysema is a smooth random field thresholded to the patient's
extent, upper lobes first, plus a few bullae at the apices in severe cases.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from synth_varied.patient import Patient
from synth_varied.trees import hilum
from synth_varied.tubes import Grid

__all__ = ["Fissure", "add_emphysema", "add_fissures", "draw_fissures"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

Fissure = tuple[F64, F64, float, tuple[float, float], float]  # point, normal, side, phases, sign


def draw_fissures(rng: np.random.Generator, pat: Patient) -> list[Fissure]:
    """Each lung's oblique fissure and the right lung's horizontal one."""
    out: list[Fissure] = []
    for side in (-1.0, 1.0):
        tilt = np.deg2rad(rng.uniform(45.0, 65.0))  # from the horizontal, down to the front
        normal = np.array([np.cos(tilt), -np.sin(tilt), rng.uniform(-0.1, 0.1)])
        phases = (float(rng.uniform(0, 6.3)), float(rng.uniform(0, 6.3)))
        out.append((hilum(pat, side), normal / np.linalg.norm(normal), side, phases, 0.0))
    flat = np.array([1.0, rng.uniform(-0.15, 0.15), rng.uniform(-0.1, 0.1)])
    phases = (float(rng.uniform(0, 6.3)), float(rng.uniform(0, 6.3)))
    out.append((hilum(pat, -1.0), flat / np.linalg.norm(flat), -1.0, phases, -1.0))
    return out


def add_fissures(hu: F32, lung: Mask, pat: Patient, fissures: list[Fissure],
                 z: F64, y: F64, x: F64, edge: float) -> None:
    """Draw `fissures` into the slab `hu` (grid z [Z,1,1], y [1,Y,1], x [1,1,X]) in place."""
    half = 0.5 * pat.fissure_mm + 0.5 * edge
    # a fissure is visible where this pattern is above a level set by its completeness
    level = np.cos(np.pi * pat.fissure_complete)
    shape = lung.shape
    for point, n, side, (ph1, ph2), front_only in fissures:
        dist = (n[0] * (z - point[0]) + n[1] * (y - point[1])).astype(np.float32) \
            + (n[2] * (x - point[2])).astype(np.float32)
        near = lung & (np.abs(dist) < half)
        k, j, i = np.nonzero(near)
        if not k.size:
            continue
        zz, yy, xx = z.ravel()[k], y.ravel()[j], x.ravel()[i]
        seen = 0.5 * (np.sin(0.045 * xx + ph1) + np.sin(0.031 * yy + 0.02 * zz + ph2)) > level
        seen &= np.sign(xx) == side
        if front_only:  # the horizontal fissure only runs in front of the hilum
            seen &= yy < point[1]
        d = np.abs(np.broadcast_to(dist, shape)[k, j, i])
        f = (np.clip(1.0 - d / half, 0.0, 1.0) * min(1.0, pat.fissure_mm / edge) * seen)
        hu[k, j, i] += f.astype(np.float32) * (np.float32(pat.fissure_hu) - hu[k, j, i])


def _lerp(a: F32, at: F64, axis: int) -> F32:
    """`a` linearly interpolated at fractional indices `at` along `axis` (clamped)."""
    at = np.clip(at, 0.0, a.shape[axis] - 1.0)
    lo = np.minimum(np.floor(at).astype(int), a.shape[axis] - 2)
    w = (at - lo).astype(np.float32)
    shape = [1, 1, 1]
    shape[axis] = -1
    w = w.reshape(shape)
    out: F32 = np.take(a, lo, axis=axis) * (1 - w) + np.take(a, lo + 1, axis=axis) * w
    return out


def _field_at(coarse: F32, field_grid: Grid, grid: Grid) -> F32:
    """The field that `field_grid` zooms `coarse` to, at the voxels of `grid` (same axes):
    a later scan of the person sees the emphysema of their first."""
    out = coarse
    for axis in range(3):
        n = field_grid.shape[axis]
        pos = grid.origin[axis] + np.arange(grid.shape[axis]) * grid.spacing[axis]
        rel = (pos - field_grid.origin[axis]) / field_grid.spacing[axis]
        out = _lerp(out, (rel + 0.5) * coarse.shape[axis] / n - 0.5, axis)
    return out


def add_emphysema(rng: np.random.Generator, hu: F32, lung: Mask, pat: Patient,
                  grid: Grid, field_grid: Grid | None = None) -> None:
    """Low-attenuation areas in the lungs of `hu` (whole volume) in place (none at 0). The
    random field is laid over `field_grid` (default `grid`): the person's first scan's
    grid when a later scan is drawn on another."""
    if pat.emphysema <= 0.0:
        return
    cell = float(rng.uniform(3.0, 7.0))
    over = grid if field_grid is None else field_grid
    coarse_shape = tuple(max(2, int(np.ceil(n * s / cell)) + 1)
                         for n, s in zip(over.shape, over.spacing, strict=True))
    coarse = rng.standard_normal(coarse_shape).astype(np.float32)
    if field_grid is None:
        factors = [n / c for n, c in zip(grid.shape, coarse_shape, strict=True)]
        field = ndimage.zoom(coarse, factors, order=1, grid_mode=True, mode="nearest")
        field = field[:grid.shape[0], :grid.shape[1], :grid.shape[2]]
    else:
        field = _field_at(coarse, field_grid, grid)
    zs = grid.origin[0] + np.arange(grid.shape[0]) * grid.spacing[0]
    upper = np.clip(zs / pat.lung_height, 0.0, 1.0).astype(np.float32)[:, None, None]
    field += 1.2 * upper
    share = 0.04 + 0.3 * pat.emphysema
    values = field[lung]
    if values.size == 0:
        return
    level = float(np.quantile(values[:: max(1, values.size // 200_000)], 1.0 - share))
    low = lung & (field > level)
    hu[low] = np.minimum(hu[low], np.float32(rng.uniform(-990.0, -955.0)))
    for _ in range(int(3 * pat.emphysema)):  # bullae under the apical pleura
        _bulla(rng, hu, lung, pat, grid)


def _bulla(rng: np.random.Generator, hu: F32, lung: Mask, pat: Patient, grid: Grid) -> None:
    side = float(rng.choice([-1.0, 1.0]))
    c = np.array([rng.uniform(0.75, 0.9) * pat.lung_height, rng.uniform(-0.4, 0.4) * pat.lung_by,
                  side * (pat.med_w + rng.uniform(0.5, 1.2) * pat.lung_ax)])
    r = float(rng.uniform(6.0, 16.0))
    sp = np.asarray(grid.spacing)
    lo = np.clip(np.floor((c - r - np.asarray(grid.origin)) / sp), 0, grid.shape).astype(int)
    hi = np.clip(np.ceil((c + r - np.asarray(grid.origin)) / sp) + 1, 0, grid.shape).astype(int)
    if np.any(hi <= lo):
        return
    ax = [grid.origin[i] + np.arange(lo[i], hi[i]) * sp[i] for i in range(3)]
    d2 = ((ax[0][:, None, None] - c[0]) ** 2 + (ax[1][None, :, None] - c[1]) ** 2
          + (ax[2][None, None, :] - c[2]) ** 2)
    box = (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))
    inside = (d2 < r * r) & lung[box]
    hu[box][inside] = -995.0
