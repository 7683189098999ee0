"""`lungscreen bench rounds`: what reading a screen against its prior costs, against the
study's model time (the issue's target: at most 10 %).

Over `studies` generated people (synth: a first scan, and the scan a year on, repositioned,
nodules carried over with one in three grown by 2-4 mm), per round-2 study, in one process:

- model: the detector on the round-2 volume (in process, `device`), the baseline;
- box: the lungs' box on a 4 mm grid (every round-2 study);
- register: the prior's lungs registered onto the current's (where the prior had nodules);
- beside and read: the matched nodules measured again side by side (the detector's lung
  mask on both scans and its measuring step) and the Lung-RADS-with-priors reading.

Loading the prior's pixels from its sources is not in these figures (`bench ingest` times a
study's load). Medians over studies, then over runs.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from jobs.rounds import lung_box, read_round, register_prior
from jobs.rounds_evaluation import prior_screen
from kernel.contract import nodules_from_array
from kernel.rounds import PriorScreen
from models.detection.detector import load_detector
from synth.acquisition import Acquisition
from synth.followup import Carried, Visit, render_visit
from synth.phantom import Phantom, make_phantom

__all__ = ["RoundsBench", "run_rounds_bench"]

_TABLE_Z = -250.0
_STAGES = ("model", "box", "register", "beside_and_read")


@dataclass(frozen=True)
class RoundsBench:
    """Seconds per round-2 study (medians), and the comparison's share of the model's."""

    runs: int
    studies: int
    device: str
    medians_s: dict[str, float]
    matched_pairs: int

    @property
    def compare_s(self) -> float:
        return sum(self.medians_s[k] for k in _STAGES[1:])

    @property
    def share(self) -> float:
        return self.compare_s / self.medians_s["model"]

    def lines(self) -> list[str]:
        m = self.medians_s
        return [
            f"rounds: a screen read against its prior, s per round-2 study, medians of "
            f"{self.runs} runs over {self.studies} people ({self.matched_pairs} matched "
            f"nodule pairs), {self.device}",
            f"  model (the detector, baseline)  {m['model']:7.3f}",
            f"  lung box                        {m['box']:7.3f}",
            f"  registration                    {m['register']:7.3f}",
            f"  side by side + reading          {m['beside_and_read']:7.3f}",
            f"  comparison, all                 {self.compare_s:7.3f}   "
            f"{100 * self.share:5.1f}% of the model's time (target <= 10%)",
        ]

    def to_json(self) -> str:
        doc: dict[str, Any] = asdict(self) | {"compare_s": self.compare_s, "share": self.share}
        return json.dumps(doc, indent=2)


def _people(studies: int, seed: int) -> list[tuple[Phantom, Phantom]]:
    """(first scan, the scan a year on) for people with at least one nodule."""
    out: list[tuple[Phantom, Phantom]] = []
    person = seed
    while len(out) < studies:
        person += 1
        prior = make_phantom(person, "small")
        if not prior.nodules:
            continue
        d, h, w = prior.hu.shape
        centre = np.asarray(prior.origin) + (np.array([d, h, w]) - 1) / 2.0 * np.asarray(
            prior.spacing)
        pivot = (float(centre[2]), float(centre[1]), float(centre[0] + _TABLE_Z))
        pose = Acquisition((3.0, -2.0, 4.0), (1.0, 0.0, 2.0), 1.02, pivot).pose()
        carried = tuple(
            Carried(f"n{t.number}", t.number, "grown" if t.number % 3 == 0 else "stable",
                    t.diameter_mm + (2.0 + t.number % 3 if t.number % 3 == 0 else 0.0),
                    t.diameter_mm, t.solid_diameter_mm, (0.0, 0.0, 0.0), None)
            for t in prior.nodules)
        visit = Visit(pose, _TABLE_Z, carried, (), person + 10_000, len(prior.nodules))
        out.append((prior, render_visit(person, "small", visit)[0]))
    return out


def _one(detector: Any, prior: Phantom, current: Phantom, screen: PriorScreen
         ) -> tuple[list[float], int]:
    """One round-2 study: its stages' seconds (as _STAGES) and its nodules measured beside."""
    clock = time.perf_counter
    t0 = clock()
    found = nodules_from_array(detector.detect(current.hu, current.spacing))
    t1 = clock()
    box = lung_box(current.hu, current.spacing)
    t2 = clock()
    pixels = register_prior(screen, current.hu, current.spacing,
                          lambda: (prior.hu, prior.spacing))
    t3 = clock()
    reading, _ = read_round(found, current.spacing, box, screen, exam_day="2026-01-08",
                            screening_round=2,
                            prior_mm=None if pixels is None else pixels.centres,
                            beside=None if pixels is None else pixels.beside.pair)
    t4 = clock()
    beside = sum(1 for n in reading.nodules if n.beside_mm is not None)
    return [t1 - t0, t2 - t1, t3 - t2, t4 - t3], beside


def run_rounds_bench(*, runs: int = 3, studies: int = 6, seed: int = 700,
                     device: str = "cpu") -> RoundsBench:
    detector = load_detector(None, device)
    people = _people(studies, seed)
    priors = []
    for prior, _ in people:
        found = nodules_from_array(detector.detect(prior.hu, prior.spacing))
        reading, _ = read_round(found, prior.spacing, lung_box(prior.hu, prior.spacing), None,
                                exam_day="2025-01-10", screening_round=1)
        priors.append(prior_screen("p", "2025-01-10", found, reading))
    per_run: dict[str, list[float]] = {k: [] for k in _STAGES}
    pairs = 0
    for _ in range(runs):
        times: dict[str, list[float]] = {k: [] for k in _STAGES}
        pairs = 0
        for (prior, current), screen in zip(people, priors, strict=True):
            seconds, beside = _one(detector, prior, current, screen)
            pairs += beside
            for k, v in zip(_STAGES, seconds, strict=True):
                times[k].append(v)
        for k in _STAGES:
            per_run[k].append(statistics.median(times[k]))
    return RoundsBench(runs, len(people), device,
                       {k: statistics.median(v) for k, v in per_run.items()}, pairs)
