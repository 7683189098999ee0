"""Bad volumes get a clear BadInput (or LungsNotCovered), never a crash."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kernel.errors import LUNGS_NOT_COVERED_PREFIX, BadInput, LungsNotCovered
from kernel.reasons import Reason
from models.detection.detector import NoduleDetector
from models.detection.network import NoduleNet
from models.detection.pipeline import STAGES
from tests.model_volumes import Chest, make_chest


@pytest.fixture(scope="module")
def detector() -> NoduleDetector:
    # input checks run before the network, so untrained weights are enough here
    return NoduleDetector(NoduleNet(), "test", torch.device("cpu"))


GOOD = np.full((20, 64, 64), -850, dtype=np.int16)
SMALL = Chest(shape=(40, 80, 80), spacing=(3.0, 2.5, 2.5))  # lungs of about 0.8 L


@pytest.mark.parametrize(
    ("volume", "spacing", "message"),
    [
        (GOOD.astype(np.float32), (1.0, 1.0, 1.0), "dtype must be int16"),
        (GOOD[0], (1.0, 1.0, 1.0), "3 dimensions"),
        (GOOD[:5], (1.0, 1.0, 1.0), "5 slices"),
        (GOOD[:, :10, :10], (1.0, 1.0, 1.0), "10x10"),
        (GOOD, (1.0, 1.0), "three numbers"),
        (GOOD, (0.0, 1.0, 1.0), "spacing z = 0.0"),
        (GOOD, (1.0, float("nan"), 1.0), "spacing y = nan"),
        (GOOD, (1.0, 1.0, 12.0), "spacing x = 12.0"),
        (GOOD, (1.0, -1.0, 1.0), "spacing y = -1.0"),
        (GOOD, "abc", "three numbers"),
        ([[1, 2]], (1.0, 1.0, 1.0), "numpy array"),
    ],
)
def test_bad_volumes_are_bad_input(detector, volume, spacing, message):
    with pytest.raises(BadInput, match=message):
        detector.detect(volume, spacing)


def test_all_air_is_lungs_not_covered(detector):
    air = np.full((40, 96, 96), -1000, dtype=np.int16)
    with pytest.raises(LungsNotCovered) as err:
        detector.detect(air, (2.5, 2.5, 2.5))
    assert err.value.reason is Reason.INCOMPLETE_LUNG_COVERAGE
    assert str(err.value).startswith(LUNGS_NOT_COVERED_PREFIX)


def test_a_body_without_lungs_is_lungs_not_covered(detector):
    vol = make_chest(Chest(shape=SMALL.shape, spacing=SMALL.spacing, lungs=False))
    with pytest.raises(LungsNotCovered, match="lung mask is 0 mL"):
        detector.detect(vol, SMALL.spacing)


def test_lungs_cut_at_the_end_of_the_series_are_not_covered(detector):
    vol = make_chest(SMALL)
    with pytest.raises(LungsNotCovered, match="cut at the first or last slice"):
        detector.detect(vol[: int(vol.shape[0] * 0.6)], SMALL.spacing)


def test_a_whole_chest_runs_every_stage_and_reports_timings(detector):
    rows = detector.detect(make_chest(SMALL), SMALL.spacing)
    assert rows.dtype == np.float32 and rows.ndim == 2 and rows.shape[1] == 7
    timings = detector.stage_timings
    assert set(timings) == set(STAGES)
    assert all(v > 0 for k, v in timings.items())
