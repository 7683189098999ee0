"""A load-test model: contract v1 in a configurable few milliseconds, findings from a hash.

`LoadTestDetector` takes what any contract-v1 model takes (VOLUME int16 [D, H, W] in HU,
SPACING float32 (z, y, x) mm) and returns NODULES float32 [N, 7] in input voxels, but it does
not look for nodules: a BLAKE2 digest of the volume's bytes decides 0, 1 or 2 findings and
each one's place, size, type and probability, so the same volume always gets the same answer
and different volumes get a realistic mix of Lung-RADS categories. It sleeps `delay_ms` per
volume, standing in for the GPU's time. Served by the real Triton (models/repository_loadtest,
`lungscreen bench scale`), it exercises the whole path (Ray, gRPC, store, metrics) at rates the
reference model cannot reach on CPUs. It is not a nodule model.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kernel.contract import NODULE_COLUMNS
from kernel.errors import BadInput

__all__ = ["LOADTEST_MODEL", "LOADTEST_REPOSITORY", "LoadTestConfig", "LoadTestDetector"]

LOADTEST_MODEL = "loadtest_detector"
LOADTEST_REPOSITORY = Path(__file__).resolve().parents[1] / "repository_loadtest"
VERSION = "loadtest-1"
_DIAMETERS_MM = (3.0, 5.0, 7.0, 9.0, 12.0, 17.0)  # each Lung-RADS size band


@dataclass(frozen=True)
class LoadTestConfig:
    """`delay_ms`: milliseconds to sleep per volume (the model's stand-in compute time)."""

    delay_ms: float = 3.0

    @classmethod
    def from_parameters(cls, parameters: dict[str, str]) -> LoadTestConfig:
        """From Triton config parameters (strings): `delay_ms`."""
        unknown = set(parameters) - {"delay_ms"}
        if unknown:
            raise ValueError(f"unknown {LOADTEST_MODEL} parameters {sorted(unknown)}; "
                             "known: delay_ms")
        delay = float(parameters.get("delay_ms", "3") or 0)
        if not math.isfinite(delay) or delay < 0:
            raise ValueError(f"delay_ms must be a finite number of milliseconds >= 0, "
                             f"got {delay}")
        return cls(delay_ms=delay)


class LoadTestDetector:
    """Deterministic findings from the volume's content (see the module doc)."""

    def __init__(self, config: LoadTestConfig | None = None) -> None:
        self.config = config or LoadTestConfig()

    @property
    def version(self) -> str:
        return VERSION

    def detect(self, volume: Any, spacing: Any) -> npt.NDArray[np.float32]:
        """NODULES [N, 7], N in 0-2; BadInput for a volume or spacing outside the contract."""
        start = time.perf_counter()
        if not isinstance(volume, np.ndarray) or volume.dtype != np.int16 or volume.ndim != 3:
            raise BadInput("VOLUME must be an int16 array [D, H, W] of Hounsfield units")
        if 0 in volume.shape:
            raise BadInput(f"VOLUME is empty, shape {list(volume.shape)}")
        z_mm, y_mm, x_mm = (float(v) for v in np.asarray(spacing, dtype=np.float64).reshape(3))
        if not all(math.isfinite(v) and 0 < v <= 50 for v in (z_mm, y_mm, x_mm)):
            raise BadInput(f"SPACING must be 3 finite positive mm values, got "
                           f"{(z_mm, y_mm, x_mm)}")
        digest = hashlib.blake2b(np.ascontiguousarray(volume).data, digest_size=32).digest()
        rows = [_finding(digest[8 * n:8 * n + 8], volume.shape) for n in range(digest[31] % 3)]
        left = self.config.delay_ms / 1000 - (time.perf_counter() - start)
        if left > 0:
            time.sleep(left)
        out = np.asarray(rows, dtype=np.float32)
        return out.reshape(-1, len(NODULE_COLUMNS))


def _finding(b: bytes, shape: tuple[int, ...]) -> list[float]:
    """One row of NODULES from 8 digest bytes: place, size band, type, probability."""
    depth, height, width = shape
    diameter = _DIAMETERS_MM[b[3] % len(_DIAMETERS_MM)]
    kind = (0, 0, 0, 0, 1, 2)[b[4] % 6]  # mostly solid; some part-solid, some ground glass
    solid = diameter if kind == 0 else (diameter * 0.5 if kind == 1 else 0.0)
    probability = 0.5 + (b[5] % 50) / 100
    return [float(b[0] % depth), float(b[1] % height), float(b[2] % width), diameter, solid,
            float(kind), probability]
