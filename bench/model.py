"""Model benchmark: volumes per second and seconds per stage inside the detector.

`run_model_bench()` renders one phantom per profile, runs the detector `repeats` times on
each (after one warm-up) and reports medians; `lungscreen bench` prints it.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from models.detection.detector import NoduleDetector, load_detector
from models.detection.pipeline import STAGES

__all__ = ["ModelBench", "ModelBenchReport", "run_model_bench"]


@dataclass(frozen=True)
class ModelBench:
    """Medians for one profile's volume."""

    profile: str
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    device: str
    repeats: int
    seconds: float  # median wall time per volume
    volumes_per_second: float
    stages: dict[str, float]  # median seconds per stage
    findings: int

    def as_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return {
            "profile": self.profile, "shape": list(self.shape), "spacing": list(self.spacing),
            "device": self.device, "repeats": self.repeats, "seconds": self.seconds,
            "volumes_per_second": self.volumes_per_second, "stages": self.stages,
            "findings": self.findings,
        }


def _bench_one(detector: NoduleDetector, profile: str, seed: int, repeats: int) -> ModelBench:
    from synth.phantom import make_phantom  # the DICOM codecs: phantoms only

    ph = make_phantom(seed, profile)
    rows = detector.detect(ph.hu, ph.spacing)  # warm-up
    walls: list[float] = []
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    for _ in range(repeats):
        t = time.perf_counter()
        rows = detector.detect(ph.hu, ph.spacing)
        walls.append(time.perf_counter() - t)
        for s, v in detector.stage_timings.items():
            stages[s].append(v)
    med = statistics.median(walls)
    return ModelBench(
        profile=profile,
        shape=(ph.hu.shape[0], ph.hu.shape[1], ph.hu.shape[2]),
        spacing=ph.spacing,
        device=str(detector.device),
        repeats=repeats,
        seconds=med,
        volumes_per_second=1.0 / med if med > 0 else 0.0,
        stages={s: statistics.median(v) for s, v in stages.items()},
        findings=int(rows.shape[0]),
    )


@dataclass(frozen=True)
class ModelBenchReport:
    """All profiles' results; `lines()` for people, `to_json()` for machines."""

    results: tuple[ModelBench, ...]
    model_version: str

    def lines(self) -> list[str]:
        out = [f"model {self.model_version}: medians per volume"]
        head = f"{'profile':10} {'shape':>14} {'vol/s':>7} {'total s':>8} " + " ".join(
            f"{s:>10}" for s in STAGES)
        out.append(head)
        for r in self.results:
            shape = "x".join(str(v) for v in r.shape)
            out.append(f"{r.profile:10} {shape:>14} {r.volumes_per_second:7.3f} "
                       f"{r.seconds:8.2f} " + " ".join(f"{r.stages[s]:10.3f}" for s in STAGES))
        out.append(f"device {self.results[0].device if self.results else '-'}, "
                   f"{self.results[0].repeats if self.results else 0} timed runs after a warm-up")
        return out

    def to_json(self) -> str:
        return json.dumps({"model_version": self.model_version,
                           "results": [r.as_dict() for r in self.results]}, indent=2)


def run_model_bench(runs: int = 3, profiles: tuple[str, ...] = ("small", "realistic"),
                    seed: int = 1, weights: Path | None = None,
                    device: str | None = None) -> ModelBenchReport:
    """Benchmark the detector on one phantom per profile; medians of `runs` timed runs."""
    detector = load_detector(weights, device)
    return ModelBenchReport(tuple(_bench_one(detector, p, seed, runs) for p in profiles),
                            detector.version)
