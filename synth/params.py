"""What varies between synthetic studies: the scanner's settings and the patient's build.

`draw_params` always draws every value in the same order from its own generator, then
applies the caller's overrides, so the same seed gives the same patient whatever is
overridden (a 1 mm and a 2.5 mm series of one seed show the same anatomy and nodules).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from synth.anatomy import Anatomy

__all__ = ["PROFILES", "Profile", "ScanParams", "draw_anatomy", "draw_params"]


@dataclass(frozen=True)
class Profile:
    """Ranges a profile draws from."""

    matrix: int
    pixel_range: tuple[float, float]
    thicknesses: tuple[float, ...]
    slices: tuple[int, int]


PROFILES: dict[str, Profile] = {
    "tiny": Profile(128, (2.6, 3.2), (2.0,), (130, 180)),  # for fast tests of file handling
    "small": Profile(256, (1.25, 1.6), (2.0,), (150, 180)),
    "realistic": Profile(512, (0.6, 0.8), (1.0, 1.25), (250, 350)),
}


@dataclass(frozen=True)
class ScanParams:
    """Scanner and patient variation. Any field can be overridden by `make_phantom(**kw)`."""

    matrix: int
    pixel_spacing: float  # mm, in-plane
    slice_thickness: float  # mm; slices are contiguous (spacing = thickness)
    n_slices: int
    margin_below: float  # mm of scan below the lung base
    noise_sigma: float  # HU, in soft tissue at mid chest
    kernel: float  # 3-tap weight: < 0 sharp (lung kernel), > 0 soft
    noise_corr: float  # 3-tap weight of the noise correlation filter
    patient_scale: float
    vessel_density: float
    x_offset: float  # mm, patient off the scanner's centre
    y_offset: float


def _pick(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def draw_anatomy(rng: np.random.Generator, scale: float) -> Anatomy:
    """One patient's anatomy at build `scale` (1.0 = an average adult)."""
    body_a = scale * _pick(rng, 145.0, 175.0)
    dome_right = _pick(rng, 0.16, 0.26)
    return Anatomy(
        lung_base=0.0,
        lung_height=float(np.sqrt(scale)) * _pick(rng, 220.0, 275.0),
        body_a=body_a,
        body_b=body_a * _pick(rng, 0.6, 0.74),
        fat_mm=scale**2 * _pick(rng, 6.0, 30.0),
        muscle_mm=_pick(rng, 9.0, 18.0),
        rib_mm=_pick(rng, 8.0, 11.0),
        med_w=_pick(rng, 16.0, 26.0),
        dome_right=dome_right,
        dome_left=dome_right - _pick(rng, 0.02, 0.06),
        heart_x=_pick(rng, 15.0, 32.0),
        heart_y=-_pick(rng, 10.0, 30.0),
        heart_a=scale * _pick(rng, 45.0, 62.0),
        heart_b=scale * _pick(rng, 38.0, 50.0),
        heart_c=_pick(rng, 45.0, 60.0),
        heart_t=_pick(rng, 0.2, 0.32),
        spine_r=_pick(rng, 14.0, 19.0),
        rib_pitch=_pick(rng, 20.0, 27.0),
        rib_slope=_pick(rng, 20.0, 45.0),
        hu_lung=_pick(rng, -880.0, -830.0),
        hu_lung_gradient=_pick(rng, 15.0, 80.0),
        hu_fat=_pick(rng, -115.0, -80.0),
        hu_muscle=_pick(rng, 35.0, 55.0),
        hu_soft=_pick(rng, 30.0, 45.0),
        hu_liver=_pick(rng, 50.0, 65.0),
        hu_bone=_pick(rng, 600.0, 1000.0),
        hu_marrow=_pick(rng, 180.0, 300.0),
    )


def draw_params(rng: np.random.Generator, profile: str, anatomy: Anatomy, scale: float,
                overrides: dict[str, object]) -> ScanParams:
    """Scanner settings for `profile` and this patient, then `overrides`.

    The field of view is fitted to the patient (as a technologist does) within the
    profile's pixel range. Unknown override names raise TypeError.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(PROFILES)}")
    prof = PROFILES[profile]
    names = {f.name for f in dataclasses.fields(ScanParams)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(f"unknown phantom variation {unknown}; expected some of {sorted(names)}")
    thickness = float(prof.thicknesses[int(rng.integers(len(prof.thicknesses)))])
    kernel = _pick(rng, -0.08, 0.2)
    drawn = {
        "matrix": prof.matrix,
        "pixel_spacing": float(np.clip(2.0 * anatomy.body_a * 1.12 / prof.matrix
                                       * rng.uniform(0.97, 1.08), *prof.pixel_range)),
        "slice_thickness": thickness,
        "margin_below": _pick(rng, 12.0, 45.0),
        "margin_above": _pick(rng, 10.0, 40.0),
        "noise_sigma": _pick(rng, 12.0, 40.0) * scale,
        "kernel": kernel,
        "noise_corr": float(np.clip(0.2 + 0.4 * kernel + rng.uniform(-0.05, 0.05), 0.08, 0.3)),
        "patient_scale": scale,
        "vessel_density": _pick(rng, 0.7, 1.4),
        "x_offset": _pick(rng, -12.0, 12.0),
        "y_offset": _pick(rng, 0.0, 30.0),
    }
    margin_above = float(drawn.pop("margin_above"))
    merged = {**drawn, **overrides}
    if "n_slices" not in overrides:
        th = float(merged["slice_thickness"])  # type: ignore[arg-type]
        coverage = float(merged["margin_below"]) + anatomy.lung_height + margin_above  # type: ignore[arg-type]
        lo, hi = prof.slices
        if th > 2.0 * max(prof.thicknesses):  # thick series: cover the same chest
            lo, hi = 10, 400
        merged["n_slices"] = int(np.clip(round(coverage / th), lo, hi))
    return ScanParams(**merged)  # type: ignore[arg-type]
