"""Triton benchmark: overhead against the in-process backend, gRPC against shared memory.

    python -m bench.triton [--runs 3] [--studies 1] [--json]
    lungscreen bench triton [--runs 3] [--studies 1] [--json]

1. Overhead: the same synthetic volumes (synth.phantom, `small` profile) through the
   in-process backend and through a local Triton (plain gRPC, and system shared memory);
   median seconds per volume of `runs` passes, and the difference. (A full detection takes
   tens of seconds on a 2-core CPU, so the defaults are small.)
2. Transfer: a realistic-size volume (512 x 512 x 300 int16, 157 MB) sent through gRPC and
   through system shared memory. The full detector on such a volume takes minutes on a CPU,
   so this uses the model's cheapest real path: the volume is all air, and the model checks
   it and answers "lungs not covered" (a BadInput) after one pass over the voxels. The same
   check in-process is timed too; Triton minus in-process is the transfer and serving cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cluster.triton.client import TritonBackend, TritonClientConfig
from cluster.triton.server import DEFAULT_REPOSITORY, LocalTritonServer, TritonServerConfig
from kernel.errors import BadInput

__all__ = ["TritonBenchResult", "run_triton_bench"]

REALISTIC_SHAPE = (300, 512, 512)


@dataclass(frozen=True)
class TritonBenchResult:
    """Medians in seconds (per volume)."""

    runs: int
    studies: int
    small_shape: tuple[int, int, int]
    inprocess_s: float
    triton_grpc_s: float
    triton_shm_s: float
    realistic_shape: tuple[int, int, int]
    realistic_mb: float
    transfer_inprocess_s: float
    transfer_grpc_s: float
    transfer_shm_s: float

    def lines(self) -> list[str]:
        d, h, w = self.small_shape
        rd, rh, rw = self.realistic_shape
        grpc_over = self.triton_grpc_s - self.inprocess_s
        shm_over = self.triton_shm_s - self.inprocess_s
        return [
            f"triton bench: medians of {self.runs} interleaved runs",
            f"full detector, {self.studies} phantoms {d}x{h}x{w} int16, s/volume:",
            f"  in-process              {self.inprocess_s:8.3f}",
            f"  triton gRPC             {self.triton_grpc_s:8.3f}   overhead {grpc_over:+.3f}",
            f"  triton shared memory    {self.triton_shm_s:8.3f}   overhead {shm_over:+.3f}",
            f"transfer (median of {max(self.runs, 5)}), {rd}x{rh}x{rw} int16 "
            f"({self.realistic_mb:.0f} MB), all-air volume (the model checks it and answers "
            "'lungs not covered'), s/request:",
            f"  in-process check        {self.transfer_inprocess_s:8.3f}",
            f"  triton gRPC             {self.transfer_grpc_s:8.3f}",
            f"  triton shared memory    {self.transfer_shm_s:8.3f}",
        ]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _median_times(calls: Sequence[Callable[[], object]], runs: int) -> list[float]:
    """Median seconds of each call; the calls are interleaved run by run, so a change in
    the machine's load (2 shared cores) hits them all alike."""
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(runs):
        for call, bucket in zip(calls, times, strict=True):
            started = time.perf_counter()
            call()
            bucket.append(time.perf_counter() - started)
    return [statistics.median(bucket) for bucket in times]


def _expect_bad_input(call: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            call()
        except BadInput:
            return
        raise AssertionError("the all-air volume was expected to be refused as bad input")

    return run


def run_triton_bench(
    runs: int = 3,
    studies: int = 1,
    urls: Sequence[str] = (),
    repository: Path = DEFAULT_REPOSITORY,
    weights: Path | None = None,
) -> TritonBenchResult:
    """Run both measurements; starts a local Triton on `repository` unless `urls` names a
    running one. `weights`: the in-process backend's weights (default: the shipped ones;
    give the same weights the served model uses)."""
    from models.detection.inprocess import InProcessBackend  # torch: this suite only
    from synth.phantom import make_phantom  # the DICOM codecs: phantoms only

    phantoms = [make_phantom(seed, "small") for seed in range(1, studies + 1)]
    air: npt.NDArray[np.int16] = np.full(REALISTIC_SHAPE, -1000, dtype=np.int16)
    air_spacing = (1.0, 0.7, 0.7)
    inproc = InProcessBackend(device="cpu", weights=weights)

    def all_volumes(backend: InProcessBackend | TritonBackend) -> Callable[[], None]:
        def run() -> None:
            for ph in phantoms:
                backend.infer(ph.hu, ph.spacing)

        return run

    server = (
        None
        if urls
        else LocalTritonServer(TritonServerConfig(model_repositories=(repository,))).start()
    )
    targets = tuple(urls) if urls else (server.grpc_url,)  # type: ignore[union-attr]
    try:
        grpc = TritonBackend(TritonClientConfig(urls=targets, shared_memory="off"))
        shm = TritonBackend(TritonClientConfig(urls=targets, shared_memory="on"))
        air_in = _expect_bad_input(lambda: inproc.infer(air, air_spacing))
        air_grpc = _expect_bad_input(lambda: grpc.infer(air, air_spacing))
        air_shm = _expect_bad_input(lambda: shm.infer(air, air_spacing))
        for warm in (air_in, air_grpc, air_shm):  # connect, resolve version, register shm
            warm()
        full = _median_times([all_volumes(b) for b in (inproc, grpc, shm)], runs)
        inprocess_s, grpc_s, shm_s = (t / studies for t in full)
        transfer = _median_times([air_in, air_grpc, air_shm], max(runs, 5))
        grpc.close()
        shm.close()
    finally:
        if server is not None:
            server.stop()
    return TritonBenchResult(
        runs=runs,
        studies=studies,
        small_shape=phantoms[0].hu.shape,  # type: ignore[arg-type]
        inprocess_s=inprocess_s,
        triton_grpc_s=grpc_s,
        triton_shm_s=shm_s,
        realistic_shape=REALISTIC_SHAPE,
        realistic_mb=air.nbytes / 1e6,
        transfer_inprocess_s=transfer[0],
        transfer_grpc_s=transfer[1],
        transfer_shm_s=transfer[2],
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.triton", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="timed runs (median reported)")
    parser.add_argument("--studies", type=int, default=1, help="phantoms per run")
    parser.add_argument("--url", action="append", default=[], help="a running Triton (gRPC)")
    parser.add_argument("--repository", type=Path, default=DEFAULT_REPOSITORY)
    parser.add_argument("--weights", type=Path, default=None, help="in-process weights")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    result = run_triton_bench(
        runs=args.runs,
        studies=args.studies,
        urls=args.url,
        repository=args.repository,
        weights=args.weights,
    )
    print(result.to_json() if args.json else "\n".join(result.lines()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
