"""`lungscreen bench gpu` (bench/gpu.sh): the detector on an NVIDIA GPU, the figure that sizes
a deployment.

1. In process: the detector loaded on `cuda` (refused where there is none), a realistic
   phantom (512 x 512, 1-1.25 mm) after a warm-up: seconds per volume and the stage split
   (bench.model).
2. Served: the bundled Triton on the GPU model repository (models/repository_gpu: KIND_GPU
   instances), the same volume sent with 1, 2 and 4 requests in flight (system shared
   memory): median and p90 latency, volumes per second. That the served model ran on the GPU
   is read from Triton's own metrics (its inference counters carry the GPU's UUID).

`--device cpu` runs the same path on the CPU repository and the small profile: what the test
suite runs here (no GPU), never a figure to report.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import requests

from bench.model import ModelBench, run_model_bench
from cluster.triton.client import TritonBackend, TritonClientConfig
from cluster.triton.server import DEFAULT_REPOSITORY, LocalTritonServer, TritonServerConfig
from kernel.errors import BadInput

__all__ = ["GPU_REPOSITORY", "GpuBench", "InFlight", "in_flight", "run_gpu_bench",
           "served_on_gpu"]

GPU_REPOSITORY = DEFAULT_REPOSITORY.parent / "repository_gpu"
IN_FLIGHT = (1, 2, 4)


@dataclass(frozen=True)
class InFlight:
    """Served figures at one number of requests in flight."""

    in_flight: int
    requests: int
    latency_p50_s: float
    latency_p90_s: float
    volumes_per_s: float


@dataclass(frozen=True)
class GpuBench:
    gpu: str
    served_on_gpu: bool
    inprocess: ModelBench
    served: tuple[InFlight, ...]

    def lines(self) -> list[str]:
        m = self.inprocess
        shape = "x".join(str(v) for v in m.shape)
        out = [f"gpu bench on {self.gpu}: {m.profile} volume {shape}, "
               f"served on the GPU: {'yes' if self.served_on_gpu else 'NO'}",
               f"  in process ({m.device}): {m.seconds:.3f} s/volume, "
               f"{m.volumes_per_second:.2f} volumes/s; stages (s): "
               + ", ".join(f"{k} {v:.3f}" for k, v in m.stages.items())]
        out += [f"  Triton, {f.in_flight} in flight: p50 {f.latency_p50_s:.3f} s, p90 "
                f"{f.latency_p90_s:.3f} s, {f.volumes_per_s:.2f} volumes/s "
                f"({f.requests} requests)" for f in self.served]
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def served_on_gpu(metrics: str) -> bool:
    """Whether Triton's metrics text counts the detector's inferences on a GPU: a non-zero
    `nv_inference_count` of lung_nodule_detector with a GPU's UUID."""
    for line in metrics.splitlines():
        if not line.startswith("nv_inference_count{") or 'model="lung_nodule_detector"' \
                not in line or 'gpu_uuid="GPU-' not in line:
            continue
        if float(line.rsplit(" ", 1)[1]) > 0:
            return True
    return False


def in_flight(backends: list[TritonBackend], infer: Callable[[TritonBackend], object],
               rounds: int) -> InFlight:
    """`rounds` requests from each backend, all backends at once (one client each)."""
    def client(backend: TritonBackend) -> list[float]:
        out = []
        for _ in range(rounds):
            t = time.perf_counter()
            infer(backend)
            out.append(time.perf_counter() - t)
        return out

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(backends)) as pool:
        ordered = sorted(x for times in pool.map(client, backends) for x in times)
    wall = time.perf_counter() - start
    return InFlight(len(backends), len(ordered), statistics.median(ordered),
                    ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
                    len(ordered) / wall)


def run_gpu_bench(*, runs: int = 3, device: str = "cuda") -> GpuBench:
    """The figures above; `device` "cpu" only to run the path where there is no GPU."""
    import torch  # the device check: this suite only

    from synth.phantom import make_phantom  # the DICOM codecs: phantoms only

    if device == "cuda" and not torch.cuda.is_available():
        raise BadInput("bench gpu needs an NVIDIA GPU that torch can use (torch.cuda is not "
                       "available here); `--device cpu` runs the same path on the CPU")
    profile = "realistic" if device == "cuda" else "tiny"
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "no GPU (cpu dry run)"
    inprocess = run_model_bench(runs, (profile,), device=device).results[0]
    ph = make_phantom(1, profile)
    repository = GPU_REPOSITORY if device == "cuda" else DEFAULT_REPOSITORY
    server = LocalTritonServer(TritonServerConfig(model_repositories=(repository,))).start()
    try:
        served = []
        for n in IN_FLIGHT:
            backends = [TritonBackend(TritonClientConfig(urls=(server.grpc_url,),
                                                         shared_memory="on"))
                        for _ in range(n)]
            try:
                for b in backends:
                    b.infer(ph.hu, ph.spacing)  # connect, register the region, warm
                served.append(in_flight(backends, lambda b: b.infer(ph.hu, ph.spacing),
                                         runs))
            finally:
                for b in backends:
                    b.close()
        on_gpu = served_on_gpu(requests.get(server.metrics_url, timeout=10).text)
    finally:
        server.stop()
    return GpuBench(gpu, on_gpu, inprocess, tuple(served))

