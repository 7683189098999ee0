"""Where a person lies in a later scan of the varied family, as an affine map of LPS mm.

A `Pose` maps LPS (x, y, z) of the person's first scan to LPS of a later one,
p' = matrix @ p + offset, its rigid part (`rotation`) kept apart: the breath hold stretches
the lungs along z, a nodule only turns and moves with the patient. A `Reposition` is one
scan relative to the one before, recorded in the truth format both families share:
p' = Rz Ry Rx S (p - pivot) + pivot + shift, S stretching z. This family pivots on the
apex of the lungs (the diaphragm is what a breath hold moves), shifts the patient further
along the table than across it, and tilts and rolls them a little (amounts in `draw`).

Frames: the person's anatomy is patient mm (z, y, x) (synth_varied.patient); a scan of
table offset T stores it at LPS (x, y, z + T); the later scan's grid is scanner mm (z, y,
x) with the same T.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Pose", "Reposition", "anatomy_to_lps", "lps_to_scanner"]

F64 = npt.NDArray[np.float64]
Vec = tuple[float, float, float]

# the drawn amounts: shift (x, y, z) mm, rotation about x, y, z degrees, breath hold
SHIFT_MM = (6.0, 3.0, 15.0)
TURN_DEG = (2.5, 2.5, 2.0)
Z_SCALE = (0.94, 1.05)


def _turn(degrees: Vec) -> F64:
    """Rz @ Ry @ Rx for angles about x, y, z (degrees)."""
    ax, ay, az = np.radians(degrees)
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]])
    ry = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    rz = np.array([[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]])
    out: F64 = rz @ ry @ rx
    return out


@dataclass(frozen=True)
class Pose:
    """p' = matrix @ p + offset on LPS (x, y, z) mm; `rotation` its rigid part."""

    matrix: F64
    offset: F64
    rotation: F64

    @classmethod
    def identity(cls) -> Pose:
        return cls(np.eye(3), np.zeros(3), np.eye(3))

    def then(self, later: Pose) -> Pose:
        """This pose followed by `later`."""
        return Pose(later.matrix @ self.matrix, later.matrix @ self.offset + later.offset,
                    later.rotation @ self.rotation)

    def apply(self, points: F64) -> F64:
        out: F64 = np.asarray(points, dtype=np.float64) @ self.matrix.T + self.offset
        return out

    def undo(self, points: F64) -> F64:
        """Points of the later scan back in the first scan's LPS."""
        out: F64 = (np.asarray(points, dtype=np.float64) - self.offset) @ np.linalg.inv(
            self.matrix).T
        return out

    def to_json(self) -> dict[str, Any]:
        return {"matrix": self.matrix.tolist(), "offset": self.offset.tolist(),
                "rotation": self.rotation.tolist()}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Pose:
        return cls(np.asarray(doc["matrix"], dtype=np.float64).reshape(3, 3),
                   np.asarray(doc["offset"], dtype=np.float64).reshape(3),
                   np.asarray(doc["rotation"], dtype=np.float64).reshape(3, 3))


@dataclass(frozen=True)
class Reposition:
    """One scan relative to the one before (LPS mm, degrees), as the truth records it."""

    shift_mm: Vec
    rotation_deg: Vec
    z_scale: float
    pivot_mm: Vec

    def pose(self) -> Pose:
        rot = _turn(self.rotation_deg)
        matrix = rot @ np.diag([1.0, 1.0, self.z_scale])
        pivot = np.asarray(self.pivot_mm)
        return Pose(matrix, pivot + np.asarray(self.shift_mm) - matrix @ pivot, rot)

    def to_json(self) -> dict[str, Any]:
        return {"shift_mm": list(self.shift_mm), "rotation_deg": list(self.rotation_deg),
                "z_scale": self.z_scale, "pivot_lps_mm": list(self.pivot_mm)}

    @classmethod
    def draw(cls, rng: np.random.Generator, apex_lps: Vec) -> Reposition:
        """A repositioning about the lungs' apex `apex_lps` (the prior scan's LPS), each
        value rounded as the truth records it (so the truth is the transform drawn)."""
        shift = tuple(round(float(rng.uniform(-a, a)), 3) for a in SHIFT_MM)
        turn = tuple(round(float(rng.uniform(-a, a)), 3) for a in TURN_DEG)
        scale = round(float(rng.uniform(*Z_SCALE)), 4)
        pivot = tuple(round(float(v), 3) for v in apex_lps)
        return cls(shift, turn, scale, pivot)  # type: ignore[arg-type]


def anatomy_to_lps(zyx: F64, table_z: float) -> F64:
    """Patient mm (z, y, x) [..., 3] -> the first scan's LPS (x, y, z)."""
    out: F64 = np.asarray(zyx, dtype=np.float64)[..., ::-1] + np.array([0.0, 0.0, table_z])
    return out


def lps_to_scanner(xyz: F64, table_z: float) -> F64:
    """LPS (x, y, z) [..., 3] -> scanner mm (z, y, x) of a scan with table offset `table_z`
    (the inverse of anatomy_to_lps: anatomy is the first scan's scanner frame)."""
    out: F64 = (np.asarray(xyz, dtype=np.float64) - np.array([0.0, 0.0, table_z]))[..., ::-1]
    return out
