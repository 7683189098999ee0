"""`lungscreen bench parallel` runs a model in both set-ups and reports their ratio (a smoke
test of the harness, on the fast test model: figures come from the bench itself, never from
a timed test)."""

from __future__ import annotations

import json
import os

import pytest

from bench.parallel import run_parallel_bench
from models.detection.threshold import THRESHOLD_MODEL

pytestmark = [pytest.mark.slow]


def test_parallel_bench_reports_both_rates_and_their_ratio() -> None:
    bench = run_parallel_bench(runs=1, studies=2, model=THRESHOLD_MODEL)
    assert bench.cores == (os.cpu_count() or 1) and bench.studies == 2
    assert bench.loop_volumes_per_s > 0 and bench.parallel_volumes_per_s > 0
    assert bench.ceiling == pytest.approx(bench.parallel_volumes_per_s / bench.loop_volumes_per_s)
    assert "ceiling" in bench.lines()[-1]
    assert json.loads(bench.to_json())["ceiling"] == pytest.approx(bench.ceiling)
