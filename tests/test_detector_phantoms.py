"""The shipped detector on small synthetic phantoms (evaluation seeds, not training ones)."""

from __future__ import annotations

import numpy as np
import pytest

from kernel.contract import nodules_from_array
from kernel.lungrads import categorize_study
from models.detection.detector import NoduleDetector, load_detector
from models.detection.inprocess import InProcessBackend
from synth.phantom import make_phantom, study_category
from tests.model_volumes import Chest, Tube, make_chest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def detector() -> NoduleDetector:
    return load_detector(device="cpu")


@pytest.mark.parametrize("seed", [2, 11])
def test_finds_the_nodules_of_6_mm_and_more(detector, seed):
    ph = make_phantom(seed, "small")
    rows = detector.detect(ph.hu, ph.spacing)
    sp = np.asarray(ph.spacing)
    big = [n for n in ph.nodules if n.diameter_mm >= 6.0]
    assert big
    for n in big:
        d = np.linalg.norm((rows[:, :3] - [n.z, n.y, n.x]) * sp, axis=1) if len(rows) else []
        assert len(d) and float(np.min(d)) <= n.diameter_mm / 2, (
            f"missed a {n.diameter_mm:.1f} mm {n.type.name} nodule")
    assert len(rows) <= len(ph.nodules) + 3


def test_vessels_are_not_reported(detector):
    tubes = (
        Tube((20.0, 60.0, 40.0), (100.0, 120.0, 60.0), 3.0),
        Tube((30.0, 70.0, 140.0), (100.0, 90.0, 160.0), 2.5),
        Tube((60.0, 60.0, 50.0), (60.0, 130.0, 52.0), 2.0),
        Tube((60.0, 60.0, 70.0), (60.0, 130.0, 40.0), 2.0),  # crosses the one before
    )
    c = Chest(shape=(40, 80, 80), spacing=(3.0, 2.5, 2.5), tubes=tubes)
    rows = detector.detect(make_chest(c), c.spacing)
    pts = rows[:, :3] * np.asarray(c.spacing)
    for t in tubes:
        a, b = np.asarray(t.start_mm), np.asarray(t.end_mm)
        s = np.clip(((pts - a) @ (b - a)) / float((b - a) @ (b - a)), 0.0, 1.0)
        dist = np.linalg.norm(pts - (a + s[:, None] * (b - a)), axis=1)
        assert (dist > t.diameter_mm / 2 + 2.0).all(), (t, rows)


def test_in_process_backend_gives_the_detector_output(detector):
    ph = make_phantom(2, "small")
    backend = InProcessBackend(detector)
    assert backend.model_version == detector.version
    a = backend.infer(ph.hu, ph.spacing)
    b = detector.detect(ph.hu, ph.spacing)
    assert a.dtype == np.float32 and a.shape[1] == 7
    np.testing.assert_array_equal(a, b)  # deterministic on the CPU
    assert categorize_study(nodules_from_array(a)) is study_category(ph)
