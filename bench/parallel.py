"""`lungscreen bench parallel`: how much any scheduling of the model can gain on this machine.

The campaign bench compares a campaign with one loop that runs the model with torch's
default threads (all cores). Whatever the campaign does (prefetching, several workers,
Triton instances), on a CPU-only machine its studies still pay the model's CPU time. This
bench measures that bound with the model alone, on one small phantom: the one-loop rate
(one process, torch threads = cores) against the rate of one single-threaded process per
core running side by side (what a campaign of `cores` workers or Triton instances gets at
best). Their ratio is the most a CPU-only campaign can beat the baseline by here, before
reading DICOM, Ray, gRPC and the store take their share. Medians of `runs` runs.
`model` names the in-process model (models.detection.inprocess): the reference detector by
default; its tests smoke-test the harness with the fast `threshold_detector`.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass

import torch

from kernel.contract import MODEL_NAME

__all__ = ["ParallelBench", "run_parallel_bench"]

_STATE: dict[str, object] = {}


@dataclass(frozen=True)
class ParallelBench:
    cores: int
    studies: int
    runs: int
    loop_volumes_per_s: float  # one process, `cores` torch threads
    parallel_volumes_per_s: float  # `cores` processes, one thread each

    @property
    def ceiling(self) -> float:
        return self.parallel_volumes_per_s / self.loop_volumes_per_s

    def lines(self) -> list[str]:
        return [
            f"model alone, small phantom, {self.studies} volumes per run, medians of "
            f"{self.runs} runs, {self.cores} cores:",
            f"  one loop, {self.cores} torch threads:   {self.loop_volumes_per_s:.3f} vol/s",
            f"  {self.cores} processes, 1 thread each: {self.parallel_volumes_per_s:.3f} vol/s",
            f"  ceiling of a CPU-only campaign over the one-loop baseline: {self.ceiling:.2f}x",
        ]

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "ceiling": self.ceiling}, indent=2)


def _setup(threads: int, model: str) -> None:
    from models.detection.inprocess import inprocess_backend  # torch: this suite only
    from synth.phantom import make_phantom  # the DICOM codecs: phantoms only

    torch.set_num_threads(threads)
    backend = inprocess_backend(model)
    ph = make_phantom(1, "small")
    backend.infer(ph.hu, ph.spacing)  # warm-up
    _STATE.update(backend=backend, phantom=ph)


def _detect(_: int) -> int:
    backend, ph = _STATE["backend"], _STATE["phantom"]
    return int(backend.infer(ph.hu, ph.spacing).shape[0])  # type: ignore[attr-defined]


def run_parallel_bench(runs: int = 3, studies: int | None = None,
                       model: str = MODEL_NAME) -> ParallelBench:
    """The one-loop and one-process-per-core rates of the model alone (see module doc)."""
    cores = os.cpu_count() or 1
    n = studies or 2 * cores
    ctx = multiprocessing.get_context("spawn")
    loop, parallel = [], []
    with ProcessPoolExecutor(1, mp_context=ctx, initializer=_setup,
                             initargs=(cores, model)) as one:
        one.submit(int, 0).result()  # started and warm
        for _ in range(runs):
            t = time.perf_counter()
            list(one.map(_detect, range(n)))
            loop.append(n / (time.perf_counter() - t))
    with ProcessPoolExecutor(cores, mp_context=ctx, initializer=_setup,
                             initargs=(1, model)) as pool:
        list(pool.map(int, range(cores)))  # every process started and warm
        for _ in range(runs):
            t = time.perf_counter()
            list(pool.map(_detect, range(n)))
            parallel.append(n / (time.perf_counter() - t))
    return ParallelBench(cores, n, runs, statistics.median(loop), statistics.median(parallel))
