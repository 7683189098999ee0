"""`lungscreen bench gpu`: refused without a GPU; its parts checked here; the whole suite on a
GPU machine only (bench/gpu.sh runs it there)."""

from __future__ import annotations

import threading
import time

import pytest

from bench.gpu import in_flight, run_gpu_bench, served_on_gpu
from kernel.errors import BadInput

_METRICS = """# HELP nv_inference_count Number of inferences performed
nv_inference_count{model="lung_nodule_detector",version="1"} 4
nv_inference_count{model="lung_nodule_detector",gpu_uuid="GPU-0b1c",version="1"} {n}
nv_inference_count{model="other",gpu_uuid="GPU-0b1c",version="1"} 9
"""


def test_served_on_gpu_reads_a_non_zero_gpu_count_of_the_detector():
    assert served_on_gpu(_METRICS.replace("{n}", "3"))
    assert not served_on_gpu(_METRICS.replace("{n}", "0"))
    assert not served_on_gpu(_METRICS.replace("{n}", "0").replace('gpu_uuid="GPU-0b1c",', ""))


def test_in_flight_keeps_that_many_requests_going_and_counts_them():
    meet = threading.Barrier(4)  # each request waits for the other three: 4 in flight or none

    def infer(_backend: object) -> None:
        meet.wait(timeout=30)
        time.sleep(0.01)

    f = in_flight([object()] * 4, infer, rounds=3)  # type: ignore[list-item]
    assert (f.in_flight, f.requests) == (4, 12)
    assert 0.01 <= f.latency_p50_s <= f.latency_p90_s and f.volumes_per_s > 0


def test_without_a_gpu_the_suite_is_refused_naming_the_cpu_dry_run():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is here")
    with pytest.raises(BadInput, match="--device cpu"):
        run_gpu_bench(runs=1)


@pytest.mark.slow
@pytest.mark.integration
def test_the_detector_is_served_on_the_gpu():
    """Runs only where CUDA is present (not yet run: no GPU was lent to a session since)."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device here")
    bench = run_gpu_bench(runs=1)
    assert bench.served_on_gpu and bench.inprocess.device.startswith("cuda")
    assert [f.in_flight for f in bench.served] == [1, 2, 4]
