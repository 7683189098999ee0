"""The chest in Hounsfield units, evaluated on broadcast coordinate arrays.

Every shape is a superellipse or ellipsoid of the patient's sizes (patient.py), so one test
serves a whole slab of slices (arrays z [Z, 1, 1], y [1, Y, 1], x [1, 1, X]) or a list of
points alike: `inside_lung` is how vessels and nodules are kept in the lungs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from synth_varied.patient import Patient

__all__ = ["inside_lung", "lung_profile", "render_torso", "table_plate"]

Arr = npt.NDArray[np.floating[Any]]
Mask = npt.NDArray[np.bool_]
AIR = -1000.0


def lung_profile(pat: Patient, z: Arr) -> tuple[Arr, Arr]:
    """Lateral and front-back semi-axes of each lung at height `z` (0 outside the lungs)."""
    t = np.asarray(z, dtype=np.float64) / pat.lung_height
    w = np.sqrt(np.clip(1.0 - np.clip((t - 0.3) / 0.72, 0.0, None) ** 2, 0.0, 1.0))
    w = np.where((t < -0.01) | (t > 1.0), 0.0, w)
    return pat.lung_ax * w, pat.lung_by * (0.55 + 0.45 * w) * (w > 0)


def _heart(pat: Patient, z: Arr, y: Arr, x: Arr) -> Mask:
    zc = pat.lung_height * (pat.dome[1] + 0.1)
    c = 0.6 * pat.heart_a
    r = (((x - pat.heart_x) / pat.heart_a) ** 2 + ((y + 0.3 * pat.lung_by) / pat.heart_b) ** 2
         + ((z - zc) / c) ** 2)
    return np.asarray(r < 1.0)


def inside_lung(pat: Patient, z: Arr, y: Arr, x: Arr) -> Mask:
    """Whether each point (broadcast z, y, x mm) lies in a lung."""
    ax, by = lung_profile(pat, z)
    side = np.sign(x)
    cx = side * (pat.med_w + ax)
    safe_ax = np.maximum(ax, 1e-6)
    safe_by = np.maximum(by, 1e-6)
    rho = np.abs((x - cx) / safe_ax) ** 2.5 + np.abs(y / safe_by) ** 2.5
    inside = (rho < 1.0) & (ax > 0) & (np.abs(x) > pat.med_w)
    # the diaphragm: a dome under each lung, its top at `dome` of the height
    base = (((np.abs(x) - pat.lung_cx) / pat.lung_ax) ** 2 + (y / pat.lung_by) ** 2)
    dome = np.where(x < 0, pat.dome[0], pat.dome[1]) * pat.lung_height
    inside &= z > dome * np.clip(1.0 - base, 0.0, 1.0) ** 0.7
    spine_y = pat.body_b - pat.fat_mm - pat.muscle_mm - pat.spine_r
    inside &= (x**2 + (y - spine_y) ** 2) > (pat.spine_r + 4.0) ** 2
    inside &= ~_heart(pat, z, y, x)
    return np.asarray(inside)


def render_torso(pat: Patient, z: Arr, y: Arr, x: Arr) -> tuple[npt.NDArray[np.float32], Mask]:
    """HU and lung mask on the grid z [Z, 1, 1] x y [1, Y, 1] x x [1, 1, X] (mm)."""
    shape = (z.shape[0], y.shape[1], x.shape[2])
    hu = np.full(shape, AIR, dtype=np.float32)

    def ell(a: float, b: float, p: float = 2.1) -> Mask:
        return np.asarray((np.abs(x / a) ** p + np.abs(y / b) ** p) < 1.0)

    a, b = pat.body_a, pat.body_b
    body = np.broadcast_to(ell(a, b), shape)
    hu[body] = pat.hu_fat
    f = pat.fat_mm
    muscle = np.broadcast_to(ell(a - f, b - f), shape)
    hu[muscle] = pat.hu_muscle
    m = f + pat.muscle_mm
    ring = np.broadcast_to(ell(a - m, b - m), shape)
    theta = np.arctan2(y, x)
    rib = np.cos(2.0 * np.pi * (z - 18.0 * np.abs(np.sin(theta))) / pat.rib_pitch) > 0.45
    rib = np.broadcast_to(rib & (z < pat.lung_height + 25.0), shape)
    hu[ring & rib] = pat.hu_bone * 0.8
    w = m + pat.rib_mm
    inner = np.broadcast_to(ell(a - w, b - w), shape)
    hu[inner] = pat.hu_soft
    liver = np.broadcast_to((x < 10.0) & (z < pat.dome[0] * pat.lung_height), shape)
    hu[inner & liver] = pat.hu_soft + 15.0
    heart = np.broadcast_to(_heart(pat, z, y, x), shape)
    hu[inner & heart] = pat.hu_soft + 8.0
    spine_y = b - m - pat.spine_r
    d2 = x**2 + (y - spine_y) ** 2
    hu[np.broadcast_to(d2 < pat.spine_r**2, shape)] = pat.hu_bone
    hu[np.broadcast_to(d2 < (0.7 * pat.spine_r) ** 2, shape)] = 0.3 * pat.hu_bone
    lung = np.broadcast_to(inside_lung(pat, z, y, x), shape) & inner
    dependent = pat.hu_lung + pat.hu_lung_slope * (y + pat.lung_by)
    hu[lung] = np.broadcast_to(dependent, shape)[lung]
    if pat.table:
        hu[np.broadcast_to(table_plate(pat, y, x), shape)] = 120.0
    return hu, np.ascontiguousarray(lung)


def table_plate(pat: Patient, y: Arr, x: Arr) -> Mask:
    """Where the scanner table's plate is (broadcast y, x mm), the patient lying on it."""
    top = pat.body_b + 10.0
    return np.asarray((y > top) & (y < top + 9.0 + 0.0005 * x**2)
                      & (np.abs(x) < 0.95 * pat.body_a))
