"""Evaluation cases: in-memory phantoms, or a synthetic DICOM cohort read through ingest.

A cohort folder holds `dicom/...` and either `ground_truth.jsonl` (written by `lungscreen
synth`) or `truth.json` (a list of studies with `study_uid`, `expected.series_uid` and
`nodules` of `center_voxel` [z, y, x], `diameter_mm`, `type`: the format of the independent
writer in tests/foreign_cohort.py; its category is derived from those nodules). Volumes are
read the way a campaign reads them: discovery, series selection, volume loading
(jobs.ingest.discovery / selection / volume). Studies the truth marks as not selectable, or whose
selected series is not the truth's primary series, are skipped and counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kernel.contract import Nodule, NoduleType
from kernel.errors import BadInput
from kernel.lungrads import Category, categorize_study
from models.tooling.mining import TruthNodule

__all__ = ["Case", "CohortSkips", "cohort_records", "phantom_cases", "truth_nodules"]


@dataclass(frozen=True)
class Case:
    """One study to evaluate: its volume and its truth (no identifiers)."""

    name: str
    hu: npt.NDArray[np.int16]
    spacing: tuple[float, float, float]
    truth: tuple[TruthNodule, ...]
    category: Category
    phantom_seed: int | None = None


@dataclass
class CohortSkips:
    """Studies of a cohort that were not evaluated, by why."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, why: str) -> None:
        self.counts[why] = self.counts.get(why, 0) + 1


def phantom_cases(n: int, seed: int, profile: str = "small") -> Iterator[Case]:
    """Phantoms `seed .. seed + n - 1` rendered in memory."""
    from synth.phantom import make_phantom, study_category  # the DICOM codecs: phantoms only

    for s in range(seed, seed + n):
        ph = make_phantom(s, profile)
        truth = tuple(TruthNodule(n_.z, n_.y, n_.x, n_.diameter_mm, n_.type)
                      for n_ in ph.nodules)
        yield Case(f"phantom-{s}", ph.hu, ph.spacing, truth, study_category(ph), s)


def truth_nodules(rec: dict[str, object]) -> tuple[TruthNodule, ...]:
    out = []
    for n in rec.get("nodules", []):  # type: ignore[attr-defined]
        kind = NoduleType[str(n["type"]).upper()]
        out.append(TruthNodule(float(n["z"]), float(n["y"]), float(n["x"]),
                               float(n["diameter_mm"]), kind))
    return tuple(out)


def _foreign_record(t: dict[str, Any]) -> dict[str, Any]:
    """A truth.json study in ground_truth.jsonl's shape."""
    nodules: list[dict[str, Any]] = []
    found: list[Nodule] = []
    for n in t.get("nodules", []):
        z, y, x = (float(v) for v in n["center_voxel"])
        d = float(n["diameter_mm"])
        solid = float(n.get("solid_diameter_mm", d))
        kind = str(n.get("type", "solid"))
        nodules.append({"z": z, "y": y, "x": x, "diameter_mm": d, "solid_diameter_mm": solid,
                        "type": kind})
        found.append(Nodule(z, y, x, d, solid, NoduleType[kind.upper()], 1.0))
    expected = t.get("expected", {})
    return {"study_uid": t["study_uid"], "expected": {"selected": expected.get("selected", True)},
            "primary_series_uid": expected.get("series_uid"), "nodules": nodules,
            "lung_rads": categorize_study(found).value, "index": t.get("name")}


def cohort_records(folder: Path) -> list[dict[str, Any]]:
    jsonl = folder / "ground_truth.jsonl"
    if jsonl.is_file():
        return [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]
    foreign = folder / "truth.json"
    if foreign.is_file():
        return [_foreign_record(t) for t in json.loads(foreign.read_text())]
    raise BadInput(f"no ground_truth.jsonl or truth.json in {folder}; COHORT must be a folder "
                   "written by `lungscreen synth` (dicom/ plus its ground truth)")
