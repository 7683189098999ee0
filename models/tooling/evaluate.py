"""Evaluating the detector and the LoG baseline on the same cases, in one table.

Per case the shared stages (resample, mask, candidates) run once; both methods score the
same candidates. FROC / CPM use every scored candidate (the methods' ranked output before
the probability threshold) after duplicates of a more probable candidate are merged
(models.tooling.dedupe: rim and neighbouring-scale blobs of one nodule); diameter error and
Lung-RADS agreement use what each method reports at its operating threshold (measured,
suppressed findings), as a campaign would.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from kernel.contract import nodules_from_array
from kernel.errors import LungsNotCovered
from kernel.lungrads import Category, categorize_study
from models.detection.detector import NoduleDetector, score_candidates
from models.detection.pipeline import Candidates
from models.tooling.baseline import BASELINE_THRESHOLD, baseline_scores
from models.tooling.cohort import Case
from models.tooling.dedupe import suppress_duplicates
from models.tooling.froc import CPM_RATES, Froc, ScanDetections, ScanReferences, cpm, froc

__all__ = ["TARGETS", "MethodResult", "evaluate"]

log = logging.getLogger("models.tooling.evaluate")
TARGETS = {"cpm": 0.85, "sensitivity_1fp_6mm": 0.90, "median_diameter_error_mm": 1.0,
           "lungrads_agreement": 0.90}
METHODS = ("cnn", "log_baseline")


@dataclass
class _Acc:
    dets: list[ScanDetections] = field(default_factory=list)
    refs: list[ScanReferences] = field(default_factory=list)
    refs6: list[ScanReferences] = field(default_factory=list)
    diam_err: list[float] = field(default_factory=list)
    agree: int = 0
    cases: int = 0
    confusion: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MethodResult:
    """One method's figures over the evaluated cases."""

    name: str
    cpm: float
    sensitivity_at: dict[str, float]
    sensitivity_1fp_6mm: float
    median_diameter_error_mm: float | None
    matched_nodules: int
    lungrads_agreement: float
    category_pairs: dict[str, int]  # "truth->predicted": count
    curve: Froc

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-able figures (the FROC curve thinned to at most 200 points)."""
        step = max(1, len(self.curve.thresholds) // 200)
        pts = [{"fp_per_scan": float(f), "sensitivity": float(s)}
               for f, s in zip(self.curve.fp_per_scan[::step], self.curve.sensitivity[::step],
                               strict=True)]
        return {
            "cpm": self.cpm, "sensitivity_at_fp_per_scan": self.sensitivity_at,
            "sensitivity_1fp_6mm": self.sensitivity_1fp_6mm,
            "median_diameter_error_mm": self.median_diameter_error_mm,
            "matched_nodules": self.matched_nodules,
            "lungrads_agreement": self.lungrads_agreement,
            "category_pairs": self.category_pairs, "froc": pts,
        }


def _refs(case: Case, min_mm: float = 0.0) -> ScanReferences:
    sp = np.asarray(case.spacing)
    c = np.asarray([[t.z, t.y, t.x] for t in case.truth], dtype=np.float64).reshape(-1, 3)
    d = np.asarray([t.diameter_mm for t in case.truth], dtype=np.float64)
    return ScanReferences(c * sp, d, d >= min_mm)


def _dets(cand: Candidates | None, prob: npt.NDArray[np.float64]) -> ScanDetections:
    if cand is None:
        return ScanDetections(np.zeros((0, 3)), np.zeros(0))
    pts = cand.grid.to_input(cand.blobs.centres.cpu().numpy()) * np.asarray(cand.spacing)
    keep = suppress_duplicates(pts, cand.blobs.radius_mm.cpu().numpy().astype(np.float64), prob)
    return ScanDetections(pts[keep], prob[keep])


def _diameter_errors(case: Case, rows: npt.NDArray[np.float32]) -> list[float]:
    sp = np.asarray(case.spacing)
    out = []
    for t in case.truth:
        if rows.shape[0] == 0:
            break
        d = np.linalg.norm((rows[:, :3] - [t.z, t.y, t.x]) * sp, axis=1)
        hit = d <= t.diameter_mm / 2.0
        if bool(hit.any()):
            j = int(np.flatnonzero(hit)[np.argmax(rows[hit, 6])])
            out.append(abs(float(rows[j, 3]) - t.diameter_mm))
    return out


def _record(acc: _Acc, case: Case, cand: Candidates | None, prob: npt.NDArray[np.float64],
            rows: npt.NDArray[np.float32] | None) -> None:
    acc.cases += 1
    acc.dets.append(_dets(cand, prob))
    acc.refs.append(_refs(case))
    acc.refs6.append(_refs(case, 6.0))
    if rows is None:
        predicted = Category.INCOMPLETE
    else:
        predicted = categorize_study(nodules_from_array(rows))
        acc.diam_err += _diameter_errors(case, rows)
    acc.agree += int(predicted is case.category)
    key = f"{case.category.value}->{predicted.value}"
    acc.confusion[key] = acc.confusion.get(key, 0) + 1


def _result(name: str, acc: _Acc) -> MethodResult:
    curve = froc(acc.dets, acc.refs)
    curve6 = froc(acc.dets, acc.refs6)
    return MethodResult(
        name=name,
        cpm=cpm(curve),
        sensitivity_at={str(r): curve.sensitivity_at(r) for r in CPM_RATES},
        sensitivity_1fp_6mm=curve6.sensitivity_at(1.0),
        median_diameter_error_mm=float(np.median(acc.diam_err)) if acc.diam_err else None,
        matched_nodules=len(acc.diam_err),
        lungrads_agreement=acc.agree / max(acc.cases, 1),
        category_pairs=dict(sorted(acc.confusion.items())),
        curve=curve,
    )


def evaluate(cases: Iterable[Case], detector: NoduleDetector) -> dict[str, object]:
    """Evaluate the CNN detector and the LoG baseline on `cases`; a JSON-able report."""
    accs = {m: _Acc() for m in METHODS}
    pipe = detector.pipeline
    n_cases = n_nodules = 0
    seeds: list[int] = []
    t0 = time.perf_counter()
    for case in cases:
        n_cases += 1
        n_nodules += len(case.truth)
        if case.phantom_seed is not None:
            seeds.append(case.phantom_seed)
        try:
            cand = pipe.prepare(case.hu, case.spacing)
        except LungsNotCovered:
            for m in METHODS:
                _record(accs[m], case, None, np.zeros(0), None)
            continue
        prob_t, types = score_candidates(detector.net, cand)
        base_t = baseline_scores(cand.blobs)
        for m, p, thr in (("cnn", prob_t, pipe.config.threshold),
                          ("log_baseline", base_t, BASELINE_THRESHOLD)):
            t = types if (m == "cnn" and detector.type_from_network) else None
            rows = pipe.finish(cand, p, t, thr)
            _record(accs[m], case, cand, p.cpu().numpy().astype(np.float64), rows)
        log.info("evaluated %s: %d candidates", case.name, len(cand.blobs))
    results = {m: _result(m, accs[m]) for m in METHODS}
    return {
        "cases": n_cases,
        "nodules": n_nodules,
        "phantom_seeds": [min(seeds), max(seeds)] if seeds else None,
        "seconds": round(time.perf_counter() - t0, 1),
        "model_version": detector.version,
        "operating_thresholds": {"cnn": pipe.config.threshold,
                                 "log_baseline": BASELINE_THRESHOLD},
        "targets": TARGETS,
        "methods": {m: r.as_dict() for m, r in results.items()},
    }
