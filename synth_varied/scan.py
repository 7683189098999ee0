"""The acquisition of one study: slice thickness, pixel size, matrix, kernel, noise, motion.

`draw_scan` fits the field of view to the patient the way a technologist does (whole
body, or a targeted reconstruction of the lungs), draws the slice thickness from what
scanners offer between 0.6 and 2.5 mm, and keeps the volume under a voxel budget by
choosing the matrix (256 to 512) among those that fit it: a thin-slice study comes out
with a coarser matrix, so that one study renders in seconds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from synth_varied.patient import Patient

__all__ = ["MATRICES", "THICKNESSES", "VOXEL_BUDGET", "Scan", "draw_scan"]

THICKNESSES = (0.6, 0.625, 0.75, 0.8, 1.0, 1.25, 1.5, 2.0, 2.5)
MATRICES = (256, 320, 384, 448, 512)
VOXEL_BUDGET = 28_000_000
PIXEL_RANGE = (0.5, 1.1)


@dataclass(frozen=True)
class Scan:
    """How the study was acquired and reconstructed (mm, HU)."""

    thickness: float  # slice thickness = spacing between slices
    pixel: float
    matrix: int
    n_slices: int
    z_first: float  # patient z of the first (lowest) slice centre
    x_centre: float  # patient x, y of the field of view's centre
    y_centre: float
    blur_mm: float  # Gaussian in-plane blur of a soft kernel (0: none)
    sharpen: float  # unsharp-mask gain of a sharp (lung) kernel (0: none)
    noise_sigma: float  # HU in soft tissue
    grain_mm: float  # noise correlation length in-plane
    motion_mm: float  # cardiac / breathing blur near the heart and diaphragm (0: still)
    fov_circle: bool  # outside the reconstruction circle holds `pad_hu`
    pad_hu: int

    @property
    def spacing(self) -> tuple[float, float, float]:
        return (self.thickness, self.pixel, self.pixel)

    def axes(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                            npt.NDArray[np.float64]]:
        """Patient mm of the slice centres z, rows y and columns x."""
        k = (np.arange(self.matrix) - (self.matrix - 1) / 2.0) * self.pixel
        zs = self.z_first + np.arange(self.n_slices) * self.thickness
        return zs, self.y_centre + k, self.x_centre + k


def _slices(coverage: float, thickness: float) -> int:
    return int(np.ceil(coverage / thickness)) + 1


def draw_scan(rng: np.random.Generator, pat: Patient, overrides: dict[str, object]) -> Scan:
    """The study's acquisition: drawn in full, then `overrides` (Scan fields) applied; the
    slice count follows an overridden thickness. Unknown names raise TypeError."""
    names = {f.name for f in dataclasses.fields(Scan)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(f"unknown scan setting {unknown}; expected some of {sorted(names)}")
    below, above = float(rng.uniform(8.0, 35.0)), float(rng.uniform(8.0, 35.0))
    coverage = below + pat.lung_height + above
    pick = int(rng.integers(len(THICKNESSES)))
    lung_fov = 2.0 * (pat.lung_cx + pat.lung_ax + 14.0)
    body_fov = 2.0 * (pat.body_a + 10.0)
    targeted = bool(rng.uniform() < 0.3)
    want = (lung_fov if targeted else body_fov) * float(rng.uniform(1.0, 1.12))
    fits = [m for m in MATRICES if lung_fov / m <= PIXEL_RANGE[1]] or [MATRICES[-1]]
    # a tall patient on the smallest matrix that fits the lungs may still be too many voxels
    # for thin slices: such a study gets the next thicker slices (the slice cap)
    while (pick + 1 < len(THICKNESSES)
           and _slices(coverage, THICKNESSES[pick]) * fits[0] ** 2 > 1.2 * VOXEL_BUDGET):
        pick += 1
    thickness = float(THICKNESSES[pick])
    n = _slices(coverage, thickness)
    cheap = [m for m in fits if n * m * m <= VOXEL_BUDGET] or fits[:1]
    # half the studies get the finest matrix the budget allows, the rest any that fits
    finest = bool(rng.uniform() < 0.5)
    matrix = int(cheap[-1] if finest else cheap[int(rng.integers(len(cheap)))])
    pixel = float(np.clip(want / matrix, max(PIXEL_RANGE[0], lung_fov / matrix), PIXEL_RANGE[1]))
    kernel = float(rng.uniform(-1.0, 1.0))  # < 0 soft, > 0 sharp
    drawn: dict[str, object] = {
        "thickness": thickness, "pixel": pixel, "matrix": matrix, "n_slices": n,
        "z_first": -below, "x_centre": float(rng.uniform(-10.0, 10.0)),
        "y_centre": float(rng.uniform(-5.0, 20.0)),
        "blur_mm": max(0.0, -kernel) * 0.9, "sharpen": max(0.0, kernel) * 1.2,
        "noise_sigma": float(rng.uniform(8.0, 45.0)) * (1.0 + 0.6 * max(0.0, kernel)),
        "grain_mm": float(rng.uniform(0.3, 1.4)),
        "motion_mm": float(rng.choice([0.0, 0.0, 1.0]) * rng.uniform(0.5, 4.0)),
        "fov_circle": bool(rng.uniform() < 0.5),
        "pad_hu": int(rng.choice([-1024, -2000, -3024])),
    }
    merged = {**drawn, **overrides}
    if "thickness" in overrides and "n_slices" not in overrides:
        merged["n_slices"] = _slices(coverage, float(merged["thickness"]))  # type: ignore[arg-type]
    return Scan(**merged)  # type: ignore[arg-type]
