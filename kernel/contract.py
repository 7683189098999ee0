"""Model contract v1: what any `lung_nodule_detector` model takes and returns.

| tensor          | type  | shape     | meaning                                                    |
| input VOLUME    | INT16 | [D, H, W] | Hounsfield units, slices ordered foot to head              |
| input SPACING   | FP32  | [3]       | (z, y, x) voxel spacing in mm                              |
| output NODULES  | FP32  | [N, 7]    | z, y, x (voxel index), diameter_mm, solid_diameter_mm,     |
|                 |       |           | type (0 solid, 1 part-solid, 2 ground-glass), probability  |

`InferenceBackend` is the seam every caller uses: the Triton client and the in-process
backend both implement it, so any model that honours the contract plugs in.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "INPUT_SPACING",
    "INPUT_VOLUME",
    "MODEL_NAME",
    "NODULE_COLUMNS",
    "OUTPUT_NODULES",
    "InferenceBackend",
    "Nodule",
    "NoduleType",
    "nodules_from_array",
    "nodules_to_array",
]

MODEL_NAME = "lung_nodule_detector"
INPUT_VOLUME = "VOLUME"
INPUT_SPACING = "SPACING"
OUTPUT_NODULES = "NODULES"
NODULE_COLUMNS = ("z", "y", "x", "diameter_mm", "solid_diameter_mm", "type", "probability")


class NoduleType(IntEnum):
    SOLID = 0
    PART_SOLID = 1
    GROUND_GLASS = 2


@dataclass(frozen=True)
class Nodule:
    """One finding, in voxel coordinates of the volume the model was given."""

    z: float
    y: float
    x: float
    diameter_mm: float
    solid_diameter_mm: float
    type: NoduleType
    probability: float


def nodules_from_array(rows: npt.NDArray[np.float32]) -> tuple[Nodule, ...]:
    """Parse an [N, 7] NODULES output; raises ValueError on the wrong shape."""
    arr = np.asarray(rows, dtype=np.float32)
    if arr.size == 0:
        return ()
    if arr.ndim != 2 or arr.shape[1] != len(NODULE_COLUMNS):
        raise ValueError(f"NODULES must have shape [N, 7], got {list(arr.shape)}")
    return tuple(
        Nodule(
            z=float(r[0]),
            y=float(r[1]),
            x=float(r[2]),
            diameter_mm=float(r[3]),
            solid_diameter_mm=float(r[4]),
            type=NoduleType(round(float(r[5]))),
            probability=float(r[6]),
        )
        for r in arr
    )


def nodules_to_array(nodules: tuple[Nodule, ...] | list[Nodule]) -> npt.NDArray[np.float32]:
    """The [N, 7] float32 form of `nodules` (shape [0, 7] when empty)."""
    out = np.zeros((len(nodules), len(NODULE_COLUMNS)), dtype=np.float32)
    for i, n in enumerate(nodules):
        out[i] = (n.z, n.y, n.x, n.diameter_mm, n.solid_diameter_mm, int(n.type), n.probability)
    return out


class InferenceBackend(Protocol):
    """Runs the nodule model on one volume. Implemented by the Triton client and in-process.

    Raises kernel.errors.BadInput for a volume the model cannot handle, RetryableError when
    the server is unavailable, PermanentError when the model fails on this input every time.
    """

    @property
    def model_version(self) -> str: ...

    def infer(
        self, volume: npt.NDArray[np.int16], spacing: tuple[float, float, float]
    ) -> npt.NDArray[np.float32]: ...
