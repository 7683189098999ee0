"""Where a person lies in a later scan of the varied family.

A repositioning is one scan relative to the one before, in the truth format both families
share (synth.acquisition: `Acquisition`, p' = Rz Ry Rx S (p - pivot) + pivot + shift, S
stretching z, and the `Pose` such maps compose into). This family draws its own amounts
(`draw_reposition`): it pivots on the apex of the lungs (the diaphragm is what a breath hold
moves), shifts the patient further along the table than across it, and tilts and rolls them
a little.

Frames: the person's anatomy is patient mm (z, y, x) (synth_varied.patient); a scan of
table offset T stores it at LPS (x, y, z + T); the later scan's grid is scanner mm (z, y,
x) with the same T.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from synth.acquisition import Acquisition

__all__ = ["anatomy_to_lps", "draw_reposition", "lps_to_scanner"]

F64 = npt.NDArray[np.float64]
Vec = tuple[float, float, float]

# the drawn amounts: shift (x, y, z) mm, rotation about x, y, z degrees, breath hold
SHIFT_MM = (6.0, 3.0, 15.0)
TURN_DEG = (2.5, 2.5, 2.0)
Z_SCALE = (0.94, 1.05)


def draw_reposition(rng: np.random.Generator, apex_lps: Vec) -> Acquisition:
    """A repositioning about the lungs' apex `apex_lps` (the prior scan's LPS), each value
    rounded as the truth records it (so the truth is the transform drawn)."""
    shift = tuple(round(float(rng.uniform(-a, a)), 3) for a in SHIFT_MM)
    turn = tuple(round(float(rng.uniform(-a, a)), 3) for a in TURN_DEG)
    scale = round(float(rng.uniform(*Z_SCALE)), 4)
    pivot = tuple(round(float(v), 3) for v in apex_lps)
    return Acquisition(shift, turn, scale, pivot)  # type: ignore[arg-type]


def anatomy_to_lps(zyx: F64, table_z: float) -> F64:
    """Patient mm (z, y, x) [..., 3] -> the first scan's LPS (x, y, z)."""
    out: F64 = np.asarray(zyx, dtype=np.float64)[..., ::-1] + np.array([0.0, 0.0, table_z])
    return out


def lps_to_scanner(xyz: F64, table_z: float) -> F64:
    """LPS (x, y, z) [..., 3] -> scanner mm (z, y, x) of a scan with table offset `table_z`
    (the inverse of anatomy_to_lps: anatomy is the first scan's scanner frame)."""
    out: F64 = (np.asarray(xyz, dtype=np.float64) - np.array([0.0, 0.0, table_z]))[..., ::-1]
    return out
