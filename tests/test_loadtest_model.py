"""The load-test model (`loadtest_detector`): contract v1's tensors, findings decided by the
volume's content alone; served by the real Triton in tests/test_bench_scale.py."""

from __future__ import annotations

import numpy as np
import pytest

from kernel.contract import nodules_from_array
from kernel.errors import BadInput
from models.detection.loadtest import LoadTestConfig, LoadTestDetector

SPACING = (2.5, 10.0, 10.0)


def _volume(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-1000, 100, (80, 32, 32), dtype=np.int16)


def test_findings_follow_the_volume_and_honour_the_contract():
    model = LoadTestDetector(LoadTestConfig(delay_ms=0))
    counts = set()
    for seed in range(40):
        volume = _volume(seed)
        rows = model.detect(volume, SPACING)
        assert rows.dtype == np.float32 and rows.ndim == 2 and rows.shape[1] == 7
        assert np.array_equal(rows, model.detect(volume.copy(), SPACING))
        counts.add(rows.shape[0])
        for n in nodules_from_array(rows):
            assert 0 <= n.z < 80 and 0 <= n.y < 32 and 0 <= n.x < 32
            assert 3 <= n.diameter_mm <= 17 and 0.5 <= n.probability < 1
    assert counts == {0, 1, 2}


def test_a_volume_outside_the_contract_is_bad_input():
    model = LoadTestDetector(LoadTestConfig(delay_ms=0))
    with pytest.raises(BadInput, match="int16"):
        model.detect(_volume(0).astype(np.float32), SPACING)
    with pytest.raises(BadInput, match="SPACING"):
        model.detect(_volume(0), (0.0, 1.0, 1.0))


def test_its_delay_is_a_config_parameter():
    assert LoadTestConfig.from_parameters({"delay_ms": "7.5"}) == LoadTestConfig(delay_ms=7.5)
    assert LoadTestConfig.from_parameters({}) == LoadTestConfig()
    for bad in ({"delay_ms": "-1"}, {"delay_ms": "nan"}, {"sleep": "1"}):
        with pytest.raises(ValueError):
            LoadTestConfig.from_parameters(bad)
