"""Analytic chest anatomy in Hounsfield units, rendered one axial slice at a time.

Coordinates are patient millimetres relative to the phantom: x to the patient's left, y to
the back (posterior), z towards the head; the body axis is x = y = 0. Every shape is an
ellipse or superellipse whose semi-axes vary smoothly with z, so a slice costs a handful of
broadcast operations on 1-D coordinate vectors. The same lung test works on point arrays,
which is how vessels and nodules are kept inside the lungs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Anatomy", "draw_anatomy", "draw_table", "rib_angle"]

F32 = npt.NDArray[np.float32]
Arr = npt.NDArray[np.floating[Any]] | float

AIR = -1000.0


def _ell(x: F32, y: F32, cx: float, cy: float, a: float, b: float, p: float = 2.0) -> F32:
    """Superellipse radius^p on the grid formed by row vector `x` and column vector `y`."""
    ax = np.abs((x - cx) / a) ** p
    ay = np.abs((y - cy) / b) ** p
    out: F32 = (ay[:, None] + ax[None, :]).astype(np.float32, copy=False)
    return out


def _smoothstep(t: Arr, lo: float, hi: float) -> Arr:
    u = np.clip((np.asarray(t) - lo) / (hi - lo), 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


@dataclass(frozen=True)
class Anatomy:
    """One patient's chest: sizes in mm and tissue values in HU."""

    lung_base: float  # z (mm) of the lowest lung point (costophrenic recess)
    lung_height: float  # base to apex, mm
    body_a: float  # body semi-axes (left-right, front-back), mm
    body_b: float
    fat_mm: float
    muscle_mm: float
    rib_mm: float
    med_w: float  # half width of the mediastinum between the lungs, mm
    dome_right: float  # diaphragm dome height as a fraction of lung height
    dome_left: float
    heart_x: float
    heart_y: float
    heart_a: float
    heart_b: float
    heart_c: float  # heart semi-axis along z, mm; centred at t = heart_t
    heart_t: float
    spine_r: float
    rib_pitch: float
    rib_slope: float
    hu_lung: float
    hu_lung_gradient: float  # HU added from front to back (dependent lung is denser)
    hu_fat: float
    hu_muscle: float
    hu_soft: float
    hu_liver: float
    hu_bone: float  # cortical bone
    hu_marrow: float

    # -- shared geometry -------------------------------------------------------------------
    def t_of(self, z: Arr) -> Arr:
        """Fractional height in the lungs: 0 at the base, 1 at the apex."""
        return (np.asarray(z) - self.lung_base) / self.lung_height

    def cavity(self, z: Arr) -> tuple[Arr, Arr]:
        """Semi-axes of the rib cage's inner surface at height z."""
        t = self.t_of(z)
        a_in = self.body_a - self.fat_mm - self.muscle_mm - self.rib_mm
        b_in = self.body_b - self.fat_mm - self.muscle_mm - self.rib_mm
        # narrower towards the thoracic inlet
        s = 1.0 - 0.35 * _smoothstep(t, 0.55, 1.15)
        return a_in * s, b_in * (1.0 - 0.15 * _smoothstep(t, 0.6, 1.2))

    def lung_shape(self, side: int, t: Arr) -> tuple[Arr, Arr, Arr, Arr]:
        """Centre x, centre y, semi-axes of one lung's ellipse at fractional height t."""
        a_c = self.body_a - self.fat_mm - self.muscle_mm - self.rib_mm
        b_c = self.body_b - self.fat_mm - self.muscle_mm - self.rib_mm
        apex = np.sqrt(np.clip(1.0 - np.clip((np.asarray(t) - 0.35) / 0.65, 0.0, 1.0) ** 2.4,
                               0.0, 1.0))
        a = 0.5 * (a_c - self.med_w) * 1.15 * np.maximum(apex, 0.05)
        b = b_c * 0.95 * np.maximum(apex, 0.05)
        cx = side * (self.med_w + 0.5 * (a_c - self.med_w)) * (1.0 - 0.2 * (1.0 - apex))
        cy = 0.08 * b_c + 0.25 * b_c * (1.0 - apex)
        return cx, cy, a, b

    def lung_mask(self, x: Arr, y: Arr, z: Arr) -> npt.NDArray[np.bool_]:
        """True where (x, y, z) mm lies in either lung; arrays broadcast."""
        x, y, z = np.asarray(x), np.asarray(y), np.asarray(z)
        t = self.t_of(z)
        a_in, b_in = self.cavity(z)
        inside = (x / a_in) ** 2 + (y / b_in) ** 2 < 1.0
        inside &= (t >= 0.0) & (t <= 1.0)
        heart = (((x - self.heart_x) / self.heart_a) ** 2 + ((y - self.heart_y) / self.heart_b) ** 2
                 + ((t - self.heart_t) * self.lung_height / self.heart_c) ** 2) < 1.0
        inside &= ~heart
        spine = (x / (self.spine_r * 1.6)) ** 2 + ((y - self.spine_y) / (self.spine_r * 1.8)) ** 2
        inside &= spine > 1.0
        either = np.zeros(np.broadcast_shapes(x.shape, y.shape, z.shape), dtype=bool)
        for side, dome in ((-1, self.dome_right), (1, self.dome_left)):
            cx, cy, a, b = self.lung_shape(side, t)
            rr = ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2
            either |= (rr < 1.0) & (rr >= 1.0 - t / dome) & (side * x > self.med_w)
        return either & inside

    @property
    def spine_y(self) -> float:
        b_in = self.body_b - self.fat_mm - self.muscle_mm - self.rib_mm
        return 0.78 * b_in

    def hilum(self, side: int) -> tuple[float, float, float]:
        """(z, y, x) mm of one lung's hilum, where its vessel trees and bronchus enter."""
        t = 0.55
        cx, cy, a, _b = self.lung_shape(side, t)
        x = float(cx) - side * 0.55 * float(a)
        return self.lung_base + t * self.lung_height, float(cy) - 5.0, x

    def lung_centre(self, side: int, z: Arr) -> tuple[Arr, Arr]:
        cx, cy, _a, _b = self.lung_shape(side, self.t_of(z))
        return cx, cy


def rib_angle(anat: Anatomy, x: F32, y: F32) -> F32:
    """sin of the angle around the rib cage (1 at the back, -1 at the front), [H, W]."""
    xs = x[None, :] * np.float32(anat.body_b / anat.body_a)
    out: F32 = (y[:, None] / np.maximum(np.hypot(xs, y[:, None]), 1e-3)).astype(np.float32)
    return out


def draw_anatomy(anat: Anatomy, x: F32, y: F32, z: float, sin_theta: F32, *,
                 table: bool = True) -> tuple[F32, npt.NDArray[np.bool_]]:
    """One axial slice at height z (mm): (HU float32 [H, W], lung mask [H, W]).

    `sin_theta` is `rib_angle(anat, x, y)`, computed once per volume. `table`: with the
    patient table (draw_table) under the body.
    """
    t = float(anat.t_of(z))
    hu = np.full((y.size, x.size), AIR, dtype=np.float32)
    shoulders = 1.0 + 0.12 * float(_smoothstep(t, 0.85, 1.25))
    a_body, b_body = anat.body_a * shoulders, anat.body_b
    body = _ell(x, y, 0.0, 0.0, a_body, b_body, 2.4) < 1.0
    np.putmask(hu, body, anat.hu_fat)
    a_m, b_m = a_body - anat.fat_mm, b_body - anat.fat_mm
    muscle = _ell(x, y, 0.0, 0.0, a_m, b_m, 2.2) < 1.0
    np.putmask(hu, muscle, anat.hu_muscle)
    a_in, b_in = (float(v) for v in anat.cavity(z))
    r_in = _ell(x, y, 0.0, 0.0, a_in, b_in)
    cavity = r_in < 1.0
    np.putmask(hu, cavity, anat.hu_soft)
    # ribs: a ring just outside the cavity, cut into bands that slope down towards the front
    ring = (r_in >= 1.0) & (_ell(x, y, 0.0, 0.0, a_in + anat.rib_mm, b_in + anat.rib_mm) < 1.0)
    phase = (z + anat.rib_slope * 0.5 * (1.0 - sin_theta)) % anat.rib_pitch
    ribs = ring & (phase < anat.rib_pitch * 0.42) & (sin_theta > -0.93) & (t < 1.1)
    hu[ribs] = np.where(phase[ribs] < anat.rib_pitch * 0.08, anat.hu_bone, anat.hu_marrow + 150.0)
    # liver under the right dome, soft tissue elsewhere below the lungs
    _cx, _cy, _a, _b = anat.lung_shape(-1, t)
    rr_r = _ell(x, y, float(_cx), float(_cy), float(_a), float(_b))
    liver = cavity & (x[None, :] < 30.0) & (t < anat.dome_right * (1.0 - np.minimum(rr_r, 1.0)))
    np.putmask(hu, liver, anat.hu_liver)
    # mediastinal fat in front of the heart and great vessels
    if 0.2 < t < 1.0:
        medfat = _ell(x, y, 0.0, -0.45 * b_in, anat.med_w * 1.3, 0.4 * b_in) < 1.0
        np.putmask(hu, medfat & cavity, anat.hu_fat + 20.0)
    if t > 0.1:  # descending aorta beside the spine
        np.putmask(hu, _ell(x, y, 18.0, anat.spine_y - 28.0, 12.0, 12.0) < 1.0, anat.hu_soft + 5.0)
    if 0.55 < t < 0.85:  # ascending aorta
        np.putmask(hu, _ell(x, y, 8.0, -0.25 * b_in, 15.0, 15.0) < 1.0, anat.hu_soft + 5.0)
    lungs = anat.lung_mask(x[None, :], y[:, None], float(z))
    grad = anat.hu_lung + anat.hu_lung_gradient * np.clip((y + b_in) / (2.0 * b_in), 0.0, 1.0)
    np.copyto(hu, np.broadcast_to(grad[:, None], hu.shape), where=lungs)
    _draw_bones(anat, hu, x, y, z, t, b_in, b_body)
    if table:
        draw_table(anat, hu, x, y)
    return hu, lungs


def _draw_bones(anat: Anatomy, hu: F32, x: F32, y: F32, z: float, t: float, b_in: float,
                b_body: float) -> None:
    sy, sr = anat.spine_y, anat.spine_r
    vert = _ell(x, y, 0.0, sy, sr * 1.1, sr)
    disc = (z % 27.0) < 5.0
    np.putmask(hu, vert < 1.0, anat.hu_bone)
    np.putmask(hu, vert < 0.75, 90.0 if disc else anat.hu_marrow)
    canal_y = sy + sr + 9.0
    arch = _ell(x, y, 0.0, canal_y, 14.0, 13.0) < 1.0
    np.putmask(hu, arch, anat.hu_bone * 0.8)
    np.putmask(hu, _ell(x, y, 0.0, canal_y, 8.0, 8.0) < 1.0, 15.0)
    spinous = _ell(x, y, 0.0, canal_y + 22.0, 5.0, 14.0) < 1.0
    spinous &= _ell(x, y, 0.0, 0.0, anat.body_a, anat.body_b, 2.4) < 1.0
    np.putmask(hu, spinous, anat.hu_marrow)
    if 0.25 < t < 1.0:  # sternum
        st = _ell(x, y, 0.0, -b_in - 0.5 * anat.rib_mm, 16.0, 6.0)
        np.putmask(hu, st < 1.0, anat.hu_bone)
        np.putmask(hu, st < 0.5, anat.hu_marrow)


def draw_table(anat: Anatomy, hu: F32, x: F32, y: F32) -> None:
    """The patient table under the body, on a slice [H, W] (or a stack [D, H, W]) whose
    rows and columns are at `y` and `x` mm (the scanner's: it does not move with the
    patient)."""
    rows = (y > anat.body_b + 12.0) & (y < anat.body_b + 18.0)
    hu[..., rows[:, None] & (np.abs(x)[None, :] < 220.0)] = 180.0
