"""The detector on a cohort written by another program, read through the ingest path."""

from __future__ import annotations

import numpy as np
import pytest

from jobs.ingest.cases import cohort_cases
from models.detection.detector import load_detector
from models.tooling.cohort import CohortSkips
from models.tooling.evaluate import evaluate

pytestmark = pytest.mark.slow


def test_foreign_cohort_nodules_are_found_and_measured(foreign_cohort):
    detector = load_detector(device="cpu")
    skips = CohortSkips()
    cases = list(cohort_cases(foreign_cohort.root, skips))
    assert len(cases) == len(foreign_cohort.truth) and not skips.counts
    found = total = false_positives = 0
    errors: list[float] = []
    for case in cases:
        rows = detector.detect(case.hu, case.spacing)
        sp = np.asarray(case.spacing)
        hit = np.zeros(len(rows), dtype=bool)
        for t in case.truth:
            total += 1
            d = np.linalg.norm((rows[:, :3] - [t.z, t.y, t.x]) * sp, axis=1)
            if d.size and d.min() <= t.diameter_mm / 2:
                found += 1
                j = int(d.argmin())
                hit[j] = True
                # 2.2 mm pixels: within about a pixel (a 9 mm sphere has measured up to
                # 11.75 mm: half maximum of a partial-volume-lowered peak)
                errors.append(abs(float(rows[j, 3]) - t.diameter_mm))
                assert errors[-1] <= 3.0, (case.name, t, rows[j])
        false_positives += int((~hit).sum())
    # measured with version 2.1: 7 of 7 found, median size error 1.1 mm (2.0: 0.9 mm)
    assert found >= total - 1, (found, total)
    assert float(np.median(errors)) <= 1.5, errors
    assert false_positives <= 3
    report = evaluate(cases, detector)
    cnn = report["methods"]["cnn"]  # type: ignore[index]
    assert cnn["lungrads_agreement"] >= 0.5
