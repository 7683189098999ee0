"""The LoG baseline runs the same stages and finds clear solid nodules."""

from __future__ import annotations

import numpy as np

from models.tooling.baseline import BASELINE_VERSION, LogBaseline
from tests.model_volumes import Chest, Sphere, make_chest


def test_baseline_finds_and_measures_two_solid_nodules():
    spheres = (Sphere((60.0, 100.0, 55.0), 10.0), Sphere((50.0, 90.0, 145.0), 14.0))
    c = Chest(shape=(40, 80, 80), spacing=(3.0, 2.5, 2.5), spheres=spheres)
    base = LogBaseline(device="cpu")
    rows = base.detect(make_chest(c), c.spacing)
    assert base.version == BASELINE_VERSION
    sp = np.asarray(c.spacing)
    for s in spheres:
        centre = np.asarray(s.centre_mm) / sp
        d = np.linalg.norm((rows[:, :3] - centre) * sp, axis=1)
        j = int(np.argmin(d))
        assert d[j] <= s.diameter_mm / 2
        assert abs(float(rows[j, 3]) - s.diameter_mm) <= 2.0  # 2.5-3 mm voxels
        assert int(rows[j, 5]) == 0  # solid
