"""The two-round figures against hand-made truth: a perfect detector scores every figure,
a detector that misses growth or a match is counted so, and a missing prior is category 0."""

from __future__ import annotations

from typing import Any

from jobs.rounds_evaluation import RoundCase, evaluate_rounds, truth_detections
from kernel.contract import Nodule
from kernel.rounds import LungBox

BOX = LungBox((0.0, 0.0, 0.0), (200.0, 200.0, 300.0))
SPACING = (2.0, 1.0, 1.0)


def nodule(nid: str, z: float, d: float, **extra: Any) -> dict[str, Any]:
    return {"nodule_id": nid, "z": z, "y": 100.0, "x": 150.0, "diameter_mm": d,
            "solid_diameter_mm": d, "type": "solid", **extra}


def first_round() -> list[RoundCase]:
    truth = {"study_uid": "1.1", "study_date": "20250110", "round": 1, "lung_rads": "3",
             "nodules": [nodule("0-0", 20.0, 7.0), nodule("0-1", 70.0, 4.0)]}
    return [RoundCase(truth, truth_detections(truth), SPACING, BOX)]


def second_round() -> list[RoundCase]:
    linked = {"study_uid": "2.1", "study_date": "20260110", "round": 2, "lung_rads": "3",
              "prior": {"study_uid": "1.1", "interval_days": 365},
              "nodules": [nodule("0-0", 20.0, 7.1, prior_nodule_id="0-0",
                                 prior_diameter_mm=7.0),
                          nodule("0-1", 70.0, 6.0, prior_nodule_id="0-1",
                                 prior_diameter_mm=4.0)]}
    missing = {"study_uid": "2.2", "study_date": "20260110", "round": 2, "lung_rads": "2",
               "prior": None, "prior_expected": True, "nodules": [nodule("9-0", 30.0, 5.0)]}
    return [RoundCase(t, truth_detections(t), SPACING, BOX) for t in (linked, missing)]


def test_a_perfect_detector_scores_every_figure():
    figures = evaluate_rounds(first_round(), second_round())
    assert figures["matched"]["hits"] == figures["matched"]["of"] == 2
    assert figures["growth_sensitivity"]["value"] == 1.0  # 4.0 -> 6.0 mm in a year
    assert figures["growth_precision"]["value"] == 1.0
    assert figures["stable_not_recalled"]["of"] == 1 and figures["stable_not_recalled"]["hits"] == 1
    assert figures["agreement"]["hits"] == 2  # 4A with priors; 0 for the missing prior


def test_a_detector_that_under_measures_growth_is_counted_so():
    cases = second_round()
    t = cases[0].truth
    small = tuple(Nodule(n.z, n.y, n.x, 4.5 if n.z == 70.0 else n.diameter_mm,
                         n.solid_diameter_mm, n.type, 1.0) for n in cases[0].detections)
    cases[0] = RoundCase(t, small, SPACING, BOX)
    figures = evaluate_rounds(first_round(), cases)
    assert figures["growth_sensitivity"]["hits"] == 0 and figures["growth_sensitivity"]["of"] == 1
    assert figures["agreement"]["hits"] == 1  # the study reads 2, the truth 4A
    # each linked pair as the truth has it and as it was read, for looking into a miss
    grown = [p for p in figures["pairs"] if p["grown"]]
    assert len(figures["pairs"]) == 2 and len(grown) == 1
    assert grown[0]["truth_prior_mm"] == 4.0 and grown[0]["reported_mm"] == 4.5
    assert grown[0]["called_grown"] is False and grown[0]["read_mm"] is None
    assert all(p["matched_correctly"] for p in figures["pairs"])
