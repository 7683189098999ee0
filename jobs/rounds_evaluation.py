"""How well screens are read against their priors, on a two-round synthetic cohort.

Given each study's truth record (ground_truth.jsonl of `lungscreen synth` and of its
`--follow-up`), the nodules a detector found and the lung box, this reads round 1 as
baselines and round 2 against round 1 exactly as a campaign does (`compare.read_round`), and
measures against the truth:

- matching: of the truth nodules present in both rounds and detected in both, the share whose
  round-2 detection was matched to the round-1 detection of the same nodule;
- growth at the 1.5 mm line: sensitivity and precision of `grown` among those linked pairs
  (truth: the planned sizes read by the same rule, kernel.followup.classify_change);
- Lung-RADS with priors: agreement of the study's category with the category the truth gives
  (the truth nodules read by kernel.followup against the truth prior), per study;
- stable 6-8 mm solid nodules (3 at baseline, stable now): the share not left at 3 or above.

With the volumes kept (`RoundCase.hu`), round 2 is registered to round 1 where the fit is
good (jobs.rounds.registered) and matched in mm, and matched nodules are measured again side
by side (jobs.rounds.side_by_side), as a campaign does when the prior's pixels are in its
sources; `registered` is the share of screens whose prior has nodules that were.
Each share comes with its Wilson 95% interval; `pairs` lists every linked nodule pair
detected in both rounds as the truth has it and as it was read (matched to its own prior or
not, sizes, the change called, whether the protocol changed), for looking into a miss.
Truth detections (`oracle`) give the same figures for a perfect detector, which separates
the reading from the detector's errors.
Truth records are plain dicts; a detection hits a truth nodule within max(4 mm, radius).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from jobs.report.aggregate import wilson_interval
from jobs.rounds.compare import read_round
from jobs.rounds.registered import register_prior
from kernel.contract import Nodule, NoduleType
from kernel.followup import (
    Change,
    Comparison,
    PriorNodule,
    categorize_round,
    classify_change,
)
from kernel.lungrads import Category, categorize_nodule
from kernel.rounds import LungBox, NoduleReading, PriorFinding, PriorScreen, RoundReading

__all__ = ["RoundCase", "evaluate_rounds", "prior_screen", "truth_detections"]

_HIT_MM = 4.0


@dataclass(frozen=True)
class RoundCase:
    """One study: its truth record, what was detected, the volume's spacing and lung box."""

    truth: Mapping[str, Any]
    detections: tuple[Nodule, ...]
    spacing: tuple[float, float, float]
    box: LungBox | None
    lungs_covered: bool = True
    hu: npt.NDArray[np.int16] | None = field(default=None, repr=False, compare=False)


@dataclass
class _Share:
    hits: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.hits += int(ok)
        self.total += 1

    def as_dict(self) -> dict[str, Any]:
        low, high = wilson_interval(self.hits, self.total)
        value = self.hits / self.total if self.total else None
        return {"value": value, "hits": self.hits, "of": self.total, "ci95": [low, high]}


@dataclass
class _Tally:
    matched: _Share = field(default_factory=_Share)
    growth_sensitivity: _Share = field(default_factory=_Share)
    growth_precision: _Share = field(default_factory=_Share)
    agreement: _Share = field(default_factory=_Share)
    stable_not_recalled: _Share = field(default_factory=_Share)
    registered: _Share = field(default_factory=_Share)
    pairs: list[dict[str, Any]] = field(default_factory=list)  # one per linked nodule pair


def truth_detections(truth: Mapping[str, Any]) -> tuple[Nodule, ...]:
    """The truth nodules as a perfect detector would report them."""
    return tuple(Nodule(float(n["z"]), float(n["y"]), float(n["x"]), float(n["diameter_mm"]),
                        float(n.get("solid_diameter_mm", n["diameter_mm"])),
                        NoduleType[str(n["type"]).upper()], 1.0)
                 for n in truth.get("nodules", []))


def _iso(da: str | None) -> str:
    text = str(da or "")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])).isoformat()
    except ValueError:
        return ""


def _hits(case: RoundCase) -> dict[int, str]:
    """Detection index -> the truth nodule id it hits (nearest first, each truth once)."""
    sp = np.asarray(case.spacing)
    pairs = []
    for i, d in enumerate(case.detections):
        for n in case.truth.get("nodules", []):
            dist = float(np.linalg.norm((np.asarray([d.z, d.y, d.x])
                                         - np.asarray([n["z"], n["y"], n["x"]])) * sp))
            if dist <= max(_HIT_MM, float(n["diameter_mm"]) / 2):
                pairs.append((dist, i, str(n["nodule_id"])))
    out: dict[int, str] = {}
    for _, i, nid in sorted(pairs):
        if i not in out and nid not in out.values():
            out[i] = nid
    return out


def prior_screen(study: str, exam_day: str, detections: Sequence[Nodule],
                 reading: RoundReading) -> PriorScreen:
    """A screen read in round 1 as the next round finds it (as the store gives it back)."""
    findings = tuple(
        PriorFinding(r.relative, PriorNodule(n.diameter_mm, n.solid_diameter_mm, n.type,
                                             r.category, r.first_diameter_mm,
                                             r.days_since_first), (n.z, n.y, n.x))
        for n, r in zip(detections, reading.nodules, strict=True) if r.relative is not None)
    return PriorScreen("prior", study, exam_day, None, findings,
                       comparable=reading.lung_box is not None)


def _truth_category(truth: Mapping[str, Any], days: float) -> Category:
    """The study's category with priors as its truth gives it."""
    if str(truth.get("lung_rads")) == Category.INCOMPLETE.value:  # lungs not covered
        return Category.INCOMPLETE
    if truth.get("prior") is None:
        if truth.get("prior_expected"):
            return Category.INCOMPLETE
        return categorize_round((n, Comparison(Change.BASELINE))
                                for n in truth_detections(truth))
    compared = []
    for spec, nodule in zip(truth.get("nodules", []), truth_detections(truth), strict=True):
        if spec.get("prior_nodule_id") is None:
            compared.append((nodule, Comparison(Change.NEW, None, days)))
            continue
        prior_d = float(spec["prior_diameter_mm"])
        prior_solid = float(spec.get("prior_solid_diameter_mm", prior_d))
        then = Nodule(0, 0, 0, prior_d, prior_solid, nodule.type, 1.0)
        prior = PriorNodule(prior_d, prior_solid, nodule.type, categorize_nodule(then), prior_d)
        change = classify_change(nodule, prior, days, has_prior_screen=True)
        compared.append((nodule, Comparison(change, prior, days)))
    return categorize_round(compared)


def _pair_row(case: RoundCase, spec: Mapping[str, Any], read: NoduleReading,
              found: Nodule, grown: bool, called: bool, matched: bool) -> dict[str, Any]:
    """One linked nodule pair as the truth has it and as it was read (no identifier: the
    study's index in its cohort and the truth's nodule id)."""
    acquisition = case.truth.get("acquisition") or {}
    beside = read.beside_mm
    return {
        "study": case.truth.get("index"), "nodule": spec.get("nodule_id"),
        "type": spec.get("type"), "attached_to": spec.get("attached_to"),
        "truth_prior_mm": spec.get("prior_diameter_mm"), "truth_mm": spec.get("diameter_mm"),
        "reported_mm": round(found.diameter_mm, 2),
        "read_prior_mm": None if read.prior_diameter_mm is None
        else round(read.prior_diameter_mm, 2),
        "read_mm": None if beside is None else round(beside[0], 2),
        "matched_correctly": matched, "grown": grown, "called_grown": called,
        "change": read.change.value,
        "protocol_changed": acquisition.get("protocol_changed"),
        "vendor_changed": acquisition.get("vendor_changed"),
    }


def _round_two(case: RoundCase, prior_case: RoundCase | None, prior: PriorScreen | None,
               prior_hits: Mapping[int, str], tally: _Tally, beside: bool) -> None:
    pixels = None
    if prior is not None and prior_case is not None and prior_case.hu is not None \
            and case.hu is not None:
        prior_hu, prior_spacing = prior_case.hu, prior_case.spacing
        pixels = register_prior(prior, case.hu, case.spacing, lambda: (prior_hu, prior_spacing))
        if prior.findings:  # nothing to register a prior without nodules for
            tally.registered.add(pixels is not None and pixels.centres is not None)
    reading, category = read_round(
        case.detections, case.spacing, case.box, prior,
        exam_day=_iso(case.truth.get("study_date")),
        screening_round=int(case.truth.get("round", 1)), lungs_covered=case.lungs_covered,
        prior_mm=None if pixels is None else pixels.centres,
        beside=None if pixels is None or not beside else pixels.beside.pair)
    days = float((case.truth.get("prior") or {}).get("interval_days", 365.25))
    tally.agreement.add(category is _truth_category(case.truth, days))
    if prior is None or prior_case is None:
        return
    hits = _hits(case)
    truth_by_id = {str(n["nodule_id"]): n for n in case.truth.get("nodules", [])}
    prior_det_of = {nid: i for i, nid in prior_hits.items()}
    for i, nid in hits.items():
        spec = truth_by_id[nid]
        link = spec.get("prior_nodule_id")
        if link is None or str(link) not in prior_det_of:
            continue
        correct = reading.nodules[i].prior_index == prior_det_of[str(link)]
        tally.matched.add(correct)
        prior_d = float(spec["prior_diameter_mm"])
        kind = NoduleType[str(spec["type"]).upper()]
        truth_prior = PriorNodule(prior_d, float(spec.get("prior_solid_diameter_mm", prior_d)),
                                  kind, Category.BENIGN)
        truth_nodule = truth_detections({"nodules": [spec]})[0]
        grown = classify_change(truth_nodule, truth_prior, days,
                                has_prior_screen=True) is Change.GROWN
        called = reading.nodules[i].change is Change.GROWN
        tally.pairs.append(_pair_row(case, spec, reading.nodules[i], case.detections[i],
                                     grown, called, correct))
        if not correct:  # compared with another nodule's prior: no growth figure
            continue
        if grown:
            tally.growth_sensitivity.add(called)
        if called:
            tally.growth_precision.add(grown)
        if (kind is NoduleType.SOLID and not grown and 6.0 <= round(prior_d, 1) < 8.0
                and 6.0 <= round(float(spec["diameter_mm"]), 1) < 8.0):
            tally.stable_not_recalled.add(reading.nodules[i].category.rank
                                          < Category.PROBABLY_BENIGN.rank)


def evaluate_rounds(first: Sequence[RoundCase], second: Iterable[RoundCase], *,
                    beside: bool = True) -> dict[str, Any]:
    """The figures (see the module doc) for round 2 (`second`) read against round 1.
    `beside=False`: growth judged on the stored sizes even where the volumes are kept."""
    by_uid: dict[str, tuple[RoundCase, PriorScreen, dict[int, str]]] = {}
    for case in first:
        reading, _ = read_round(case.detections, case.spacing, case.box, None,
                                exam_day=_iso(case.truth.get("study_date")), screening_round=1,
                                lungs_covered=case.lungs_covered)
        uid = str(case.truth["study_uid"])
        screen = prior_screen(uid, _iso(case.truth.get("study_date")), case.detections, reading)
        by_uid[uid] = (case, screen, _hits(case))
    tally = _Tally()
    count = 0
    for case in second:
        count += 1
        link = case.truth.get("prior")
        found = by_uid.get(str(link["study_uid"])) if link else None
        if found is None:
            _round_two(case, None, None, {}, tally, beside)
        else:
            _round_two(case, found[0], found[1], found[2], tally, beside)
    return {"studies": {"round_1": len(first), "round_2": count},
            **{name: getattr(tally, name).as_dict() for name in
               ("matched", "growth_sensitivity", "growth_precision", "agreement",
                "stable_not_recalled", "registered")},
            "pairs": tally.pairs}
