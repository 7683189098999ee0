"""The detector's stages around the scorer: resample, mask, candidates, then measure, NMS.

`Pipeline.prepare` turns an input volume into candidates on the iso grid; a scorer (the CNN,
or the LoG response for the baseline) gives each a probability and type; `Pipeline.finish`
measures the ones above threshold, suppresses duplicates and maps them back to the input
voxel grid. Seconds per stage of the last call are kept in `timings`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from kernel.contract import NODULE_COLUMNS, NoduleType
from kernel.errors import LungsNotCovered
from models.detection.blobs import DEFAULT_PASSES, BlobConfig, Blobs, find_candidates
from models.detection.inputs import check_volume
from models.detection.lungmask import lung_mask
from models.detection.measure import LungField, Measurement, measure_nodule
from models.detection.resample import Grid, plan_grid, resample

__all__ = ["STAGES", "Candidates", "Pipeline", "PipelineConfig", "pick_device"]

STAGES = ("resample", "mask", "candidates", "network", "measure")


def pick_device(device: str | None) -> torch.device:
    """`device`, or CUDA when present, else the CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of the stages (validated values; defaults are the reference model's)."""

    iso_mm: float = 1.0
    passes: tuple[BlobConfig, ...] = DEFAULT_PASSES
    min_lung_ml: float = 400.0
    max_end_fraction: float = 0.5  # lung area on an end slice over the largest slice area
    threshold: float = 0.5
    max_findings: int = 32


@dataclass(frozen=True)
class Candidates:
    """What `prepare` hands the scorer: the iso volume and the candidate blobs on it."""

    volume: torch.Tensor  # float [D, H, W] input volume on the device
    spacing: tuple[float, float, float]
    grid: Grid
    iso: torch.Tensor
    blobs: Blobs
    lung: LungField


class Pipeline:
    """Stateless stages plus the timings of the last call."""

    def __init__(self, config: PipelineConfig, device: torch.device) -> None:
        self.config = config
        self.device = device
        self.timings: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self._t = 0.0

    def _tick(self, stage: str) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        self.timings[stage] += now - self._t
        self._t = now

    def prepare(self, volume: npt.NDArray[np.int16], spacing: object) -> Candidates:
        """Validate, resample, mask and find candidates; raises BadInput / LungsNotCovered."""
        sp = check_volume(volume, spacing)
        self.timings = dict.fromkeys(STAGES, 0.0)
        self._t = time.perf_counter()
        cfg = self.config
        vol = torch.from_numpy(np.ascontiguousarray(volume)).to(self.device).to(torch.float32)
        shape = (vol.shape[0], vol.shape[1], vol.shape[2])
        cgrid = plan_grid(shape, sp, 2.0 * cfg.iso_mm)
        coarse = resample(vol, cgrid)
        self._tick("resample")
        lm = lung_mask(coarse, cgrid.iso_spacing)
        self._tick("mask")
        if lm.volume_ml < cfg.min_lung_ml:
            raise LungsNotCovered(f"lung mask is {lm.volume_ml:.0f} mL, expected at least "
                                  f"{cfg.min_lung_ml:.0f} mL; check the series covers the chest")
        if lm.end_fraction > cfg.max_end_fraction:
            pct = 100 * lm.end_fraction
            raise LungsNotCovered(f"the lungs are cut at the first or last slice ({pct:.0f}% of "
                                  "the widest lung section); the series must cover both lungs "
                                  "from apex to base")
        grid = _lung_box_grid(lm.mask, cgrid, shape, sp, cfg.iso_mm)
        iso = resample(vol, grid)
        mask = _mask_on(lm.mask, cgrid, grid)
        self._tick("resample")
        iso_mm = float(np.mean(grid.iso_spacing))
        blobs = find_candidates(iso, mask, iso_mm, cfg.passes)
        self._tick("candidates")
        return Candidates(volume=vol, spacing=sp, grid=grid, iso=iso, blobs=blobs,
                          lung=LungField(lm.closed, cgrid.step))

    def mark_network_done(self) -> None:
        """Record the scorer's time (call right after scoring)."""
        self._tick("network")

    def finish(self, cand: Candidates, prob: torch.Tensor, types: torch.Tensor | None,
               threshold: float | None = None,
               measured: dict[tuple[int, int], Measurement] | None = None,
               ) -> npt.NDArray[np.float32]:
        """Measure candidates with `prob` >= threshold; NMS; contract rows in input voxels.
        `measured` keeps each (candidate, type hint)'s measurement for later calls on the same
        candidates (tuning reads many thresholds and networks over one set)."""
        thr = self.config.threshold if threshold is None else threshold
        order = [int(i) for i in prob.argsort(descending=True) if float(prob[i]) >= thr]
        order = order[: self.config.max_findings]
        iso_c = cand.blobs.centres.cpu().numpy().astype(np.float64)
        rows: list[list[float]] = []
        for i in order:
            centre = cand.grid.to_input(iso_c[i : i + 1])[0]
            hint = None if types is None else NoduleType(int(types[i]))
            key = (i, -1 if hint is None else int(hint))
            m = None if measured is None else measured.get(key)
            if m is None:
                m = measure_nodule(cand.volume, cand.spacing, (centre[0], centre[1], centre[2]),
                                   float(cand.blobs.radius_mm[i]), cand.lung, hint)
                if measured is not None:
                    measured[key] = m
            kind = m.type if hint is None else _trusted_type(hint, m.type)
            solid = m.solid_diameter_mm
            if types is not None and kind is not m.type:
                solid = {NoduleType.SOLID: m.diameter_mm, NoduleType.GROUND_GLASS: 0.0}.get(
                    kind, min(max(solid, 1.0), m.diameter_mm))
            rows.append([*m.centre, m.diameter_mm, solid, float(kind), float(prob[i])])
        self._tick("measure")
        out = _nms_rows(np.asarray(rows, dtype=np.float64), cand.spacing)
        return out.astype(np.float32).reshape(-1, len(NODULE_COLUMNS))


def _trusted_type(network: NoduleType, measured: NoduleType) -> NoduleType:
    """The classifier's type, except where the image has no solid tissue to show for it:
    when the measurement (hinted with the classifier's type) still finds no solid part of
    at least MIN_SOLID_MM, the nodule is ground glass (a vessel crossing ground glass is
    what makes the classifier say part-solid or solid there; on tuning phantoms
    200000-200079 this rule agreed with Lung-RADS on 2 more studies and on none fewer)."""
    if measured is NoduleType.GROUND_GLASS:
        return measured
    return network


def _lung_box_grid(mask: torch.Tensor, cgrid: Grid, shape: tuple[int, int, int],
                   spacing: tuple[float, float, float], iso_mm: float,
                   margin_mm: float = 6.0) -> Grid:
    """The iso grid over the lungs' bounding box (plus a margin) in input voxels."""
    nz = mask.nonzero()
    lo_c = nz.min(0).values.cpu().numpy().astype(np.float64)
    hi_c = nz.max(0).values.cpu().numpy().astype(np.float64)
    margin = np.asarray([margin_mm / s for s in spacing])
    lo = np.floor(cgrid.to_input(lo_c[None])[0] - margin).astype(int)
    hi = np.ceil(cgrid.to_input(hi_c[None])[0] + margin).astype(int) + 1
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, np.asarray(shape))
    return plan_grid(shape, spacing, iso_mm, (int(lo[0]), int(lo[1]), int(lo[2])),
                     (int(hi[0]), int(hi[1]), int(hi[2])))


def _mask_on(mask: torch.Tensor, src: Grid, dst: Grid) -> torch.Tensor:
    """`mask` (on grid `src`) sampled, nearest, onto grid `dst` (same input volume)."""
    idx = []
    for a in range(3):
        c = np.rint((dst.axis_to_input(a) - src.offset[a]) / src.step[a]).astype(np.int64)
        idx.append(torch.from_numpy(np.clip(c, 0, mask.shape[a] - 1)).to(mask.device))
    return mask[idx[0]][:, idx[1]][:, :, idx[2]]


def _nms_rows(rows: npt.NDArray[np.float64], spacing: tuple[float, float, float]
              ) -> npt.NDArray[np.float64]:
    """Drop a finding whose centre lies inside a more probable finding (rows sorted by prob)."""
    if rows.size == 0:
        return rows.reshape(0, len(NODULE_COLUMNS))
    sp = np.asarray(spacing)
    keep: list[int] = []
    for i in range(rows.shape[0]):
        ok = True
        for j in keep:
            dist = float(np.linalg.norm((rows[i, :3] - rows[j, :3]) * sp))
            if dist < max(rows[j, 3] / 2.0, rows[i, 3] / 2.0, 2.0):
                ok = False
                break
        if ok:
            keep.append(i)
    return rows[keep]
