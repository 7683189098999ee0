"""LUNA16-style FROC analysis: hits, false positives per scan, CPM.

A detection hits a reference nodule when its centre lies within the nodule's radius
(diameter / 2) of the nodule's centre (distances in mm). Each reference counts once: of the
detections that hit it, the most probable is its true positive and the others are ignored,
as in the LUNA16 evaluation script. Detections that hit an excluded reference (e.g. one below
a size limit) are ignored too. All other detections are false positives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["CPM_RATES", "Froc", "ScanDetections", "ScanReferences", "cpm", "froc"]

CPM_RATES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True)
class ScanDetections:
    """One scan's detections: centres [N, 3] in mm and probabilities [N]."""

    centres_mm: npt.NDArray[np.float64]
    probability: npt.NDArray[np.float64]


@dataclass(frozen=True)
class ScanReferences:
    """One scan's reference nodules: centres [M, 3] in mm, diameters [M], included [M]."""

    centres_mm: npt.NDArray[np.float64]
    diameter_mm: npt.NDArray[np.float64]
    included: npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Froc:
    """The FROC curve: operating points ordered by falling threshold."""

    thresholds: npt.NDArray[np.float64]
    fp_per_scan: npt.NDArray[np.float64]
    sensitivity: npt.NDArray[np.float64]
    n_references: int
    n_scans: int

    def sensitivity_at(self, fp_rate: float) -> float:
        """Best sensitivity at an average of at most `fp_rate` false positives per scan."""
        ok = self.fp_per_scan <= fp_rate + 1e-12
        return float(self.sensitivity[ok].max()) if bool(ok.any()) else 0.0


def _scan_events(det: ScanDetections, ref: ScanReferences
                 ) -> tuple[list[float], list[float]]:
    """(true-positive probabilities, one per hit reference; false-positive probabilities)."""
    n_det = det.probability.shape[0]
    if ref.centres_mm.shape[0] == 0 or n_det == 0:
        return [], [float(p) for p in det.probability]
    dist = np.linalg.norm(det.centres_mm[:, None, :] - ref.centres_mm[None, :, :], axis=2)
    hits = dist <= (ref.diameter_mm / 2.0)[None, :]
    tp: list[float] = []
    for j in np.flatnonzero(ref.included):
        if bool(hits[:, j].any()):
            tp.append(float(det.probability[hits[:, j]].max()))
    fp = [float(p) for p in det.probability[~hits.any(axis=1)]]
    return tp, fp


def froc(detections: Sequence[ScanDetections], references: Sequence[ScanReferences]) -> Froc:
    """The FROC curve over scans (the two sequences are aligned, one entry per scan)."""
    if len(detections) != len(references):
        raise ValueError(f"{len(detections)} detection lists for {len(references)} scans")
    tps: list[float] = []
    fps: list[float] = []
    n_ref = 0
    for det, ref in zip(detections, references, strict=True):
        tp, fp = _scan_events(det, ref)
        tps += tp
        fps += fp
        n_ref += int(ref.included.sum())
    n_scans = max(len(detections), 1)
    thr = np.unique(np.asarray(tps + fps, dtype=np.float64))[::-1]
    tp_arr = np.sort(np.asarray(tps))
    fp_arr = np.sort(np.asarray(fps))
    n_tp = tp_arr.size - np.searchsorted(tp_arr, thr, side="left")
    n_fp = fp_arr.size - np.searchsorted(fp_arr, thr, side="left")
    sens = n_tp / n_ref if n_ref else np.zeros_like(thr)
    return Froc(
        thresholds=np.concatenate([[np.inf], thr]),
        fp_per_scan=np.concatenate([[0.0], n_fp / n_scans]),
        sensitivity=np.concatenate([[0.0], np.asarray(sens, dtype=np.float64)]),
        n_references=n_ref,
        n_scans=len(detections),
    )


def cpm(curve: Froc, rates: Sequence[float] = CPM_RATES) -> float:
    """Competition performance metric: mean sensitivity at the given FP-per-scan rates."""
    return float(np.mean([curve.sensitivity_at(r) for r in rates]))
