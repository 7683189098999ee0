"""Where the patient lies in a later scan: repositioning and breath hold, as affine maps.

A `Pose` maps LPS mm (x, y, z) of a person's first scan to LPS mm of a later one,
p' = matrix @ p + offset, and keeps its rotation apart: lungs stretch with the breath hold
but a nodule is moved rigidly (its shape turns with the patient, it does not stretch).
An `Acquisition` is one scan relative to the one before it: the patient shifted, turned
about the x, y and z axes (in that order) and the lungs stretched along z, the turn and
the stretch about a pivot (the centre of the lungs in the prior); poses compose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Acquisition", "Pose"]

F64 = npt.NDArray[np.float64]

Vec = tuple[float, float, float]


def _rotation(degrees: Vec) -> F64:
    """Rz @ Ry @ Rx for angles (about x, y, z) in degrees."""
    ax, ay, az = np.radians(degrees)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    out: F64 = rz @ ry @ rx
    return out


@dataclass(frozen=True)
class Pose:
    """p' = matrix @ p + offset on LPS (x, y, z) mm; `rotation` is the rigid part."""

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
        """Points [..., 3] (LPS x, y, z) moved by the pose."""
        out: F64 = np.asarray(points) @ self.matrix.T + self.offset
        return out

    def invert(self, points: F64) -> F64:
        """Points [..., 3] of the later scan back in the first scan's frame."""
        out: F64 = (np.asarray(points) - self.offset) @ np.linalg.inv(self.matrix).T
        return out

    def to_json(self) -> dict[str, Any]:
        return {"matrix": self.matrix.tolist(), "offset": self.offset.tolist(),
                "rotation": self.rotation.tolist()}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Pose:
        return cls(*(np.asarray(doc[k], dtype=np.float64).reshape(s)
                     for k, s in (("matrix", (3, 3)), ("offset", (3,)), ("rotation", (3, 3)))))


@dataclass(frozen=True)
class Acquisition:
    """One scan relative to the one before it (all LPS mm and degrees)."""

    shift_mm: Vec
    rotation_deg: Vec  # about x, y, z, applied in that order
    z_scale: float  # breath hold: the prior's z stretched by this about the pivot
    pivot_mm: Vec

    def pose(self) -> Pose:
        """p' = R S (p - pivot) + pivot + shift, S stretching z."""
        rot = _rotation(self.rotation_deg)
        matrix = rot @ np.diag([1.0, 1.0, self.z_scale])
        pivot = np.asarray(self.pivot_mm)
        return Pose(matrix, pivot + np.asarray(self.shift_mm) - matrix @ pivot, rot)

    def to_json(self) -> dict[str, Any]:
        return {"shift_mm": [round(v, 3) for v in self.shift_mm],
                "rotation_deg": [round(v, 3) for v in self.rotation_deg],
                "z_scale": round(self.z_scale, 4),
                "pivot_lps_mm": [round(v, 3) for v in self.pivot_mm]}

    @classmethod
    def draw(cls, rng: np.random.Generator, pivot: Vec) -> Acquisition:
        """A repositioning of a few mm and degrees and a breath hold a few per cent off,
        each rounded as the truth records it (so the truth is the transform rendered)."""
        shift = tuple(round(float(v), 3) for v in rng.uniform(-5.0, 5.0, 3))
        rot = tuple(round(float(v), 3) for v in (rng.uniform(-2.0, 2.0), rng.uniform(-2.0, 2.0),
                                                 rng.uniform(-3.0, 3.0)))
        scale = round(float(rng.uniform(0.96, 1.04)), 4)
        piv = tuple(round(float(v), 3) for v in pivot)
        return cls(shift, rot, scale, piv)  # type: ignore[arg-type]
