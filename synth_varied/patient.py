"""One person of the varied family: build, lung shape, tissue values, and what their lungs
hold (vessel calibre and shape, airway walls, fissures, emphysema, scars, bands).

Frame (patient mm, z y x): x to the patient's left, y posterior, z towards the head; the
body axis is x = y = 0 and z = 0 is the lowest point of the lungs (the costophrenic
recess). `draw_patient` draws every value in a fixed order from its own generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Patient", "draw_patient"]


@dataclass(frozen=True)
class Patient:
    """A chest and what varies between people's lungs (sizes mm, values HU)."""

    body_a: float  # body semi-axes: left-right, front-back
    body_b: float
    fat_mm: float
    muscle_mm: float
    rib_mm: float
    rib_pitch: float
    lung_height: float
    lung_cx: float  # lung centre |x|
    lung_ax: float  # lung semi-axes at the widest level
    lung_by: float
    med_w: float  # half width of the mediastinum
    heart_a: float
    heart_b: float
    heart_x: float
    dome: tuple[float, float]  # diaphragm dome height (right, left), fraction of height
    spine_r: float
    hu_lung: float
    hu_lung_slope: float  # HU per mm towards the back (dependent density)
    hu_fat: float
    hu_muscle: float
    hu_soft: float
    hu_bone: float
    hu_vessel: float
    vessel_root_mm: float  # radius of the lobar trunks
    vessel_taper: float  # radius factor per generation
    vessel_min_mm: float  # tips thinner than this stop
    tortuosity: float  # rad of random turn per step
    branch_deg: float  # mean angle between a branch and its parent
    kink_rate: float  # chance of a kink per step
    end_rate: float  # chance per generation that a vessel ends abruptly
    wall_ratio: float  # airway wall thickness / lumen radius
    hu_wall: float
    fissure_hu: float
    fissure_mm: float
    fissure_complete: float  # share of the fissure surface that is visible
    emphysema: float  # 0 (none) .. 1 (severe): share of the lung below -950 HU, roughly
    scars: int
    bands: int
    table: bool


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def draw_patient(rng: np.random.Generator) -> Patient:
    """A patient, every value drawn in the same order whatever is used later."""
    scale = _u(rng, 0.85, 1.12)
    body_a = scale * _u(rng, 140.0, 172.0)
    body_b = body_a * _u(rng, 0.58, 0.76)
    fat = scale**2 * _u(rng, 3.0, 22.0)
    muscle = _u(rng, 6.0, 12.0)
    rib = _u(rng, 6.0, 9.0)
    wall = fat + muscle + rib
    med_w = _u(rng, 14.0, 24.0)
    lung_ax = 0.5 * (body_a - wall - med_w) * _u(rng, 0.95, 0.99)
    lung_cx = med_w + lung_ax
    lung_by = (body_b - wall) * _u(rng, 0.92, 0.98)
    dome_r = _u(rng, 0.15, 0.27)
    emph = _u(rng, 0.0, 1.0)
    return Patient(
        body_a=body_a, body_b=body_b, fat_mm=fat, muscle_mm=muscle, rib_mm=rib,
        rib_pitch=_u(rng, 19.0, 27.0),
        lung_height=float(np.sqrt(scale)) * _u(rng, 210.0, 265.0),
        lung_cx=lung_cx, lung_ax=lung_ax, lung_by=lung_by, med_w=med_w,
        heart_a=scale * _u(rng, 42.0, 60.0), heart_b=scale * _u(rng, 36.0, 50.0),
        heart_x=_u(rng, 12.0, 30.0),
        dome=(dome_r, dome_r - _u(rng, 0.0, 0.06)),
        spine_r=_u(rng, 13.0, 19.0),
        hu_lung=_u(rng, -905.0, -820.0),
        hu_lung_slope=_u(rng, 0.05, 0.5),
        hu_fat=_u(rng, -120.0, -80.0),
        hu_muscle=_u(rng, 30.0, 60.0),
        hu_soft=_u(rng, 25.0, 50.0),
        hu_bone=_u(rng, 500.0, 1100.0),
        hu_vessel=_u(rng, -10.0, 90.0),
        vessel_root_mm=_u(rng, 3.2, 6.0),
        vessel_taper=_u(rng, 0.72, 0.86),
        vessel_min_mm=_u(rng, 0.35, 0.7),
        tortuosity=_u(rng, 0.03, 0.4),
        branch_deg=_u(rng, 20.0, 55.0),
        kink_rate=_u(rng, 0.0, 0.04),
        end_rate=_u(rng, 0.0, 0.12),
        wall_ratio=_u(rng, 0.12, 0.45),
        hu_wall=_u(rng, -80.0, 60.0),
        fissure_hu=_u(rng, -650.0, -200.0),
        fissure_mm=_u(rng, 0.4, 1.4),
        fissure_complete=_u(rng, 0.2, 1.0),
        emphysema=0.0 if emph < 0.6 else (emph - 0.6) / 0.4,
        scars=int(rng.choice([0, 0, 1, 2, 3])),
        bands=int(rng.choice([0, 0, 1, 2])),
        table=bool(rng.uniform() < 0.85),
    )
