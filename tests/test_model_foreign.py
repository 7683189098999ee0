"""The detector on a cohort written by another program, read through the ingest path."""

from __future__ import annotations

import numpy as np
import pytest

from models.cohort import CohortSkips, cohort_cases
from models.detector import load_detector
from models.evaluate import evaluate

pytestmark = pytest.mark.slow


def test_foreign_cohort_nodules_are_found_and_measured(foreign_cohort):
    detector = load_detector(device="cpu")
    skips = CohortSkips()
    cases = list(cohort_cases(foreign_cohort.root, skips))
    assert len(cases) == len(foreign_cohort.truth) and not skips.counts
    found = total = false_positives = 0
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
                # 2.2 mm pixels: measured within 2 mm
                assert abs(float(rows[j, 3]) - t.diameter_mm) <= 2.0, (case.name, t, rows[j])
        false_positives += int((~hit).sum())
    # measured when this test was written: 6 of 7 found, 2 false positives in 4 scans
    assert found >= total - 1, (found, total)
    assert false_positives <= 3
    report = evaluate(cases, detector)
    cnn = report["methods"]["cnn"]  # type: ignore[index]
    assert cnn["lungrads_agreement"] >= 0.5
