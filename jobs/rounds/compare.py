"""Reading one screen against the person's prior: match, classify, categorise.

Runs in the worker right after inference, on what it already has (the nodules, the volume's
spacing and lung box) and the prior the driver found in the store: no second model pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from jobs.rounds.matching import match
from kernel.contract import Nodule
from kernel.followup import (
    Change,
    Comparison,
    PriorNodule,
    categorize_compared,
    categorize_round,
    classify_change,
)
from kernel.lungrads import Category
from kernel.rounds import LungBox, NoduleReading, PriorFinding, PriorScreen, RoundReading

Beside = Callable[[Nodule, PriorFinding], "tuple[Nodule, PriorNodule] | None"]
"""Measures a matched nodule and its prior again side by side (jobs.rounds.side_by_side)."""

__all__ = ["DEFAULT_INTERVAL_DAYS", "interval_days", "read_round"]

DEFAULT_INTERVAL_DAYS = 365.25  # when either exam day is unknown: an annual round


def interval_days(prior_day: str, day: str) -> float:
    """Days between two (shifted) exam days; an annual round when either is unknown."""
    try:
        return float((date.fromisoformat(day) - date.fromisoformat(prior_day)).days)
    except ValueError:
        return DEFAULT_INTERVAL_DAYS


def _centre_mm(n: Nodule, spacing: tuple[float, float, float]) -> tuple[float, float, float]:
    """A nodule's centre in mm from the volume's first voxel."""
    return (n.z * spacing[0], n.y * spacing[1], n.x * spacing[2])


def _relative(nodules: Sequence[Nodule], spacing: tuple[float, float, float],
              box: LungBox | None) -> list[tuple[float, float, float] | None]:
    if box is None:
        return [None] * len(nodules)
    return [box.relative(_centre_mm(n, spacing)) for n in nodules]


def read_round(nodules: Sequence[Nodule], spacing: tuple[float, float, float],
               box: LungBox | None, prior: PriorScreen | None, *, exam_day: str,
               screening_round: int, lungs_covered: bool = True,
               prior_mm: Sequence[tuple[float, float, float]] | None = None,
               beside: Beside | None = None) -> tuple[RoundReading, Category]:
    """The screen's reading against `prior` (None: no prior screen found) and its category
    with priors. A study that says it is round 2 or later and has no prior is category 0
    (its prior is being located). `prior_mm`, one per prior finding: their centres mapped
    into this volume's mm by registering the two scans (jobs.rounds.registration); without
    it nodules are matched in the lung-relative frame. `beside`, where the prior's pixels are
    at hand: each matched pair is measured again side by side and its change judged on those
    two sizes (the reading records them); the category's size stays the screen's own."""
    relative = _relative(nodules, spacing, box)
    if prior is None or not prior.comparable:
        missing = prior is None and screening_round >= 2
        readings = tuple(
            NoduleReading(Change.BASELINE, categorize_compared(n, Comparison(Change.BASELINE)),
                          first_diameter_mm=n.diameter_mm, relative=rel)
            for n, rel in zip(nodules, relative, strict=True))
        category = categorize_round(((n, Comparison(Change.BASELINE)) for n in nodules),
                                    lungs_covered=lungs_covered, prior_missing=missing)
        prior_pid = None if prior is None else prior.study_pid
        return RoundReading(box, readings, prior_study_pid=prior_pid,
                            prior_category=None if prior is None else prior.category,
                            prior_missing=missing), category
    days = interval_days(prior.exam_day, exam_day)
    pairs: dict[int, int] = {}
    if prior_mm is not None and len(prior_mm) == len(prior.findings):
        pairs = match([_centre_mm(n, spacing) for n in nodules],
                      [n.diameter_mm for n in nodules], list(prior_mm),
                      [f.nodule.diameter_mm for f in prior.findings], (1.0, 1.0, 1.0))
    elif box is not None and all(rel is not None for rel in relative):
        pairs = match([r for r in relative if r is not None], [n.diameter_mm for n in nodules],
                      [f.relative for f in prior.findings],
                      [f.nodule.diameter_mm for f in prior.findings], box.size)
    compared: list[tuple[Nodule, Comparison]] = []
    readings_list: list[NoduleReading] = []
    for i, (n, rel) in enumerate(zip(nodules, relative, strict=True)):
        found = prior.findings[pairs[i]].nodule if i in pairs else None
        judged = None if found is None or beside is None else beside(n, prior.findings[pairs[i]])
        measured, found = (n, found) if judged is None else judged
        change = classify_change(measured, found, days, has_prior_screen=True)
        comparison = Comparison(change, found, days)
        compared.append((n, comparison))
        first = n.diameter_mm if found is None else (found.first_diameter_mm or found.diameter_mm)
        since = 0.0 if found is None else found.days_since_first + days
        readings_list.append(NoduleReading(
            change, categorize_compared(n, comparison),
            None if found is None else found.diameter_mm,
            None if found is None else found.solid_diameter_mm, first, since, rel,
            pairs.get(i),
            None if judged is None else (measured.diameter_mm, measured.solid_diameter_mm)))
    category = categorize_round(compared, lungs_covered=lungs_covered)
    return RoundReading(box, tuple(readings_list), prior_study_pid=prior.study_pid,
                        prior_category=prior.category, interval_days=days,
                        resolved=len(prior.findings) - len(pairs),
                        registered=prior_mm is not None), category
