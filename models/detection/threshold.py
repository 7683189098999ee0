"""A fast contract-v1 model: nodules as compact bright blobs inside the lungs.

`ThresholdDetector` honours model contract v1 exactly as the reference detector does (the
same input checks, `models.detection.inputs.check_volume`; the same `LungsNotCovered` for a
series that misses the lungs; NODULES float32 [N, 7] in input voxels), answers from the
volume's content in well under a second, deterministically, and needs no weights and no
torch. It is what orchestration tests and load tests screen with: campaigns, faults,
residency, rehearsals and benchmarks exercise the whole path (Ray, Triton, store, metrics)
without paying the real network's 5-28 s a volume on a CPU.

How it reads a volume (numpy and scipy only):
1. the lungs: air below -400 HU on a ~2.5 mm in-plane grid, the components that do not
   touch the in-plane border, the largest one or two, holes filled slice by slice; under
   400 mL of lung, or an end slice cut through more than half the widest lung section, is
   `LungsNotCovered` (the reference detector's thresholds);
2. nodule tissue: voxels above -700 HU (3x3x3 mean) inside the lungs (ground glass starts
   about -650 HU; the parenchyma is about -850), opened by a ball of 2 mm radius: an opening
   keeps any union of such balls (a nodule's body) and drops what is thinner (small vessels
   and noise);
3. each remaining component whose equivalent-sphere diameter is 3-30 mm and which is
   compact (longest extent at most 1.6 times that diameter, at least 15% of its bounding
   box filled: vessels are tubes) is a finding: its centre of mass, that diameter, the
   type from the share above -300 HU (solid, part-solid, ground glass), and a probability
   from how well it fills its box.

It is not a nodule model: vessels touching a nodule, juxtapleural nodules and anything the
threshold misses are its blind spots. Its findings are what its rules say, every time.

Two knobs for tests (`ThresholdConfig`): `delay_s`, seconds to sleep per volume (a slow
model, so a test can kill a worker mid-shard), and the poison mark: a volume holding
`POISON_HU` in the 2x2 top-left corner of any slice fails with `PermanentError` on every
try, as a model that crashes on one study would (`mark_poison` writes the mark).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from kernel.contract import NODULE_COLUMNS, NoduleType
from kernel.errors import LungsNotCovered, PermanentError
from models.detection.inputs import check_volume
from models.detection.lungparts import keep_lungs

__all__ = [
    "POISON_HU",
    "THRESHOLD_MODEL",
    "ThresholdConfig",
    "ThresholdDetector",
    "mark_poison",
]

THRESHOLD_MODEL = "threshold_detector"
POISON_HU = 3071  # the top of the 12-bit CT range: never a 2x2 block of real air at a corner
VERSION = "threshold-1"

_AIR_HU = -400.0
_TISSUE_HU = -700.0
_SOLID_HU = -300.0
_MIN_LUNG_ML = 400.0
_MAX_END_FRACTION = 0.5
_MIN_D_MM, _MAX_D_MM = 3.0, 30.0
_MAX_ELONGATION = 1.6
_MIN_FILL = 0.15  # a sphere fills 0.52 of its box (less on coarse voxels), an oblique vessel less
_SOLID_SHARE = 0.75
_SLICE = np.zeros((3, 3, 3), dtype=bool)
_SLICE[1] = ndimage.generate_binary_structure(2, 1)


@dataclass(frozen=True)
class ThresholdConfig:
    """Test knobs: `delay_s` per volume; `poison`: fail on a marked volume."""

    delay_s: float = 0.0
    poison: bool = True

    @classmethod
    def from_parameters(cls, parameters: dict[str, str]) -> ThresholdConfig:
        """From Triton config parameters (strings): `delay_s`, `poison` (true/false)."""
        unknown = set(parameters) - {"delay_s", "poison"}
        if unknown:
            raise ValueError(f"unknown threshold_detector parameters {sorted(unknown)}; "
                             "known: delay_s, poison")
        delay = float(parameters.get("delay_s", "0") or 0)
        if not math.isfinite(delay) or delay < 0:
            raise ValueError(f"delay_s must be a finite number of seconds >= 0, got {delay}")
        poison = parameters.get("poison", "true").strip().lower() not in ("false", "0", "no")
        return cls(delay_s=delay, poison=poison)


def mark_poison(hu: npt.NDArray[np.int16], slice_index: int = 0) -> None:
    """Write the poison mark into slice `slice_index` of an HU volume (in place)."""
    hu[slice_index, :2, :2] = POISON_HU


def _is_marked(volume: npt.NDArray[np.int16]) -> bool:
    return bool(np.any(np.all(volume[:, :2, :2] == POISON_HU, axis=(1, 2))))


def _lungs(volume: npt.NDArray[np.int16], spacing: tuple[float, float, float]
           ) -> npt.NDArray[np.bool_]:
    """The filled lung mask at full resolution; raises LungsNotCovered."""
    step = max(1, round(2.5 / min(spacing[1], spacing[2])))
    coarse = volume[:, ::step, ::step]
    filled = ndimage.binary_fill_holes(keep_lungs(coarse < _AIR_HU), structure=_SLICE)
    voxel_ml = spacing[0] * spacing[1] * spacing[2] * step * step / 1000.0
    volume_ml = float(filled.sum()) * voxel_ml
    if volume_ml < _MIN_LUNG_ML:
        raise LungsNotCovered(f"lung mask is {volume_ml:.0f} mL, expected at least "
                              f"{_MIN_LUNG_ML:.0f} mL; check the series covers the chest")
    areas = filled.sum(axis=(1, 2))
    end = float(max(areas[0], areas[-1]) / areas.max())
    if end > _MAX_END_FRACTION:
        raise LungsNotCovered(f"the lungs are cut at the first or last slice ({100 * end:.0f}% "
                              "of the widest lung section); the series must cover both lungs "
                              "from apex to base")
    full = np.repeat(np.repeat(filled, step, axis=1), step, axis=2)
    return np.asarray(full[:, : volume.shape[1], : volume.shape[2]], dtype=bool)


def _diameter(voxels: int, voxel_mm3: float) -> float:
    return float((6.0 * voxels * voxel_mm3 / math.pi) ** (1.0 / 3.0))


def _ball(radius_mm: float, spacing: tuple[float, float, float]) -> npt.NDArray[np.bool_]:
    r = [max(1, round(radius_mm / s)) for s in spacing]
    zz, yy, xx = np.ogrid[-r[0]:r[0] + 1, -r[1]:r[1] + 1, -r[2]:r[2] + 1]
    return np.asarray((zz / r[0]) ** 2 + (yy / r[1]) ** 2 + (xx / r[2]) ** 2 <= 1.0)


def _findings(volume: npt.NDArray[np.int16], lungs: npt.NDArray[np.bool_],
              spacing: tuple[float, float, float]) -> list[list[float]]:
    box = ndimage.find_objects(lungs.astype(np.uint8))[0]
    sub = volume[box]
    tissue = (ndimage.uniform_filter(sub.astype(np.float32), size=3) > _TISSUE_HU) & lungs[box]
    # an opening by a ball keeps every union of such balls (a nodule) and drops what is
    # thinner than the ball (most vessels); compact components are the findings
    labels, n = ndimage.label(ndimage.binary_opening(tissue, structure=_ball(2.0, spacing)))
    if n == 0:
        return []
    sp = np.asarray(spacing)
    voxel_mm3 = float(np.prod(sp))
    flat = labels.ravel()
    counts = np.bincount(flat, minlength=n + 1)
    solid = np.bincount(flat, weights=(sub > _SOLID_HU).ravel(), minlength=n + 1)
    rows: list[list[float]] = []
    for index, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        d = _diameter(int(counts[index]), voxel_mm3)
        extent = max((s.stop - s.start) * step for s, step in zip(sl, sp, strict=True))
        fill = counts[index] / np.prod([s.stop - s.start for s in sl])
        if not _MIN_D_MM <= d <= _MAX_D_MM or extent > _MAX_ELONGATION * d or fill < _MIN_FILL:
            continue
        centre = ndimage.center_of_mass(labels[sl] == index)
        z, y, x = (float(c + s.start + o.start)
                   for c, s, o in zip(centre, sl, box, strict=True))
        d_solid = _diameter(int(solid[index]), voxel_mm3)
        if d_solid >= _SOLID_SHARE * d:
            kind, solid_d = NoduleType.SOLID, d
        elif d_solid >= _MIN_D_MM:
            kind, solid_d = NoduleType.PART_SOLID, d_solid
        else:
            kind, solid_d = NoduleType.GROUND_GLASS, 0.0
        probability = float(np.clip(0.5 + fill, 0.5, 0.99))
        rows.append([z, y, x, d, solid_d, float(kind), probability])
    rows.sort(key=lambda r: (-r[6], r[0], r[1], r[2]))
    return rows


class ThresholdDetector:
    """Contract-v1 detection by threshold and connected components (see the module)."""

    version = VERSION

    def __init__(self, config: ThresholdConfig | None = None) -> None:
        self.config = config or ThresholdConfig()

    def detect(self, volume: npt.NDArray[np.int16], spacing: object
               ) -> npt.NDArray[np.float32]:
        """NODULES [N, 7] float32; raises BadInput, LungsNotCovered, or PermanentError on
        a poison-marked volume."""
        sp = check_volume(volume, spacing)
        if self.config.delay_s:
            time.sleep(self.config.delay_s)
        if self.config.poison and _is_marked(volume):
            raise PermanentError("threshold_detector: this volume carries the poison mark "
                                 "(a test study made to fail)")
        rows = _findings(volume, _lungs(volume, sp), sp)
        return np.asarray(rows, dtype=np.float32).reshape(-1, len(NODULE_COLUMNS))
