"""Streaming aggregation of study results into counts per group (before any suppression).

`aggregate(results, by=("region", "site"))` reads results once and keeps one counter per
group at the finest level asked for; coarser levels (per region, the whole campaign) are
sums of those and come from `Aggregation.rollup`. Every count is a number of studies, never
of nodules, so that small-cell suppression protects people: the nodule size distribution
counts screened studies by the mean diameter of their largest nodule.

Measure names (the columns of every report):

    seen, screened, quarantined, opted_out, positive        studies
    quarantined.<reason>                                    quarantined studies by Reason
    category.<0|1|2|3|4A|4B|4X>                             screened studies by Lung-RADS
    largest_nodule.<none|<4|4-6|6-8|8-15|15-30|>=30>        screened studies by size (mm)
    technical_recall, technical_recall.<repeat_scan|manual_read>
                                 studies to re-scan or read by hand (kernel.next_steps)
    lungs_not_covered, awaiting_prior   category 0 by why: only where some study of a later
                                 round waits for its prior (Reason.PRIOR_NOT_FOUND)
    with_prior, with_new_nodule, with_growing_nodule, shift.*, transition.*
                                 round over round, where some study had a prior
                                 (jobs.report.round_measures)

with, per group: seen = screened + quarantined + opted_out; quarantined = sum of its
reasons; screened = sum of categories = sum of size bins; positive = categories 3 and up;
technical_recall = repeat_scan + manual_read, each the sum of the reasons (and category 0, or
where listed its two parts: category.0 = lungs_not_covered + awaiting_prior) whose next step
it is.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from jobs.report.round_measures import count_round, round_measures
from kernel.contract import Nodule
from kernel.lungrads import POSITIVE_CATEGORIES, Category
from kernel.next_steps import UNSPECIFIED, NextStep, technical_recall
from kernel.reasons import Reason
from kernel.records import DIMENSIONS, Outcome, StudyResult

__all__ = [
    "CATEGORY_MEASURES",
    "DIMENSIONS",
    "SIZE_BINS",
    "SIZE_MEASURES",
    "TECHNICAL",
    "TECHNICAL_MEASURES",
    "Aggregation",
    "GroupKey",
    "GroupingProblem",
    "StageTiming",
    "aggregate",
    "grouping_problem",
    "reason_measure",
    "size_bin",
    "wilson_interval",
]


@dataclass(frozen=True)
class GroupingProblem:
    """What is wrong with a grouping: `empty`, an `unknown` dimension, or one `repeated`;
    `name` is the dimension concerned (empty for `empty`). Each caller words it its way."""

    kind: str
    name: str = ""


def grouping_problem(by: Sequence[str], dimensions: Sequence[str] = DIMENSIONS
                     ) -> GroupingProblem | None:
    """The one check of a grouping against `dimensions` (None: distinct, known names): the
    results' DIMENSIONS (kernel.records), or the fewer a table is kept for."""
    if not by:
        return GroupingProblem("empty")
    unknown = [d for d in by if d not in dimensions]
    if unknown:
        return GroupingProblem("unknown", unknown[0])
    twice = [d for d in by if list(by).count(d) > 1]
    return GroupingProblem("repeated", twice[0]) if twice else None

SEEN, SCREENED, QUARANTINED, OPTED_OUT, POSITIVE = (
    "seen", "screened", "quarantined", "opted_out", "positive")

# (label, lower bound inclusive, upper bound exclusive) in mm of mean diameter
SIZE_BINS: tuple[tuple[str, float, float], ...] = (
    ("<4", 0.0, 4.0),
    ("4-6", 4.0, 6.0),
    ("6-8", 6.0, 8.0),
    ("8-15", 8.0, 15.0),
    ("15-30", 15.0, 30.0),
    (">=30", 30.0, math.inf),
)
NO_NODULE = "none"

LUNGS_NOT_COVERED, AWAITING_PRIOR = "lungs_not_covered", "awaiting_prior"
TECHNICAL = "technical_recall"
TECHNICAL_MEASURES = (TECHNICAL, *(f"{TECHNICAL}.{s.value}" for s in
                                   (NextStep.REPEAT_SCAN, NextStep.MANUAL_READ)))
"""Studies that need a repeat scan or a manual read: in total, then by next step."""
CATEGORY_MEASURES = tuple(f"category.{c.value}" for c in Category)
SIZE_MEASURES = tuple(f"largest_nodule.{b}" for b in (NO_NODULE, *(b[0] for b in SIZE_BINS)))
_MISSING_CATEGORY = "category.missing"
_UNSPECIFIED_REASON = UNSPECIFIED

GroupKey = tuple[str, ...]
"""The values of a group's dimensions, in the order of the level's dimensions."""


def reason_measure(reason: str) -> str:
    """The measure name counting studies quarantined for `reason`."""
    return f"{QUARANTINED}.{reason}"


def size_bin(nodules: Iterable[Nodule]) -> str:
    """The size bin of the largest nodule (mean diameter rounded to 0.1 mm, as Lung-RADS)."""
    largest = max((round(float(n.diameter_mm), 1) for n in nodules), default=None)
    if largest is None:
        return NO_NODULE
    for label, low, high in SIZE_BINS:
        if low <= largest < high:
            return label
    return SIZE_BINS[0][0]  # a negative diameter from a broken model: the smallest bin


def wilson_interval(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n (95% by default); (0, 1) when n is 0."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= k <= n:
        raise ValueError(f"wilson_interval needs 0 <= k <= n, got k={k}, n={n}")
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # at k = 0 (k = n) the bound is exactly 0 (1); the float sum leaves 5.55e-17 behind
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return (low, high)


@dataclass(frozen=True)
class StageTiming:
    """Worker seconds per stage ("load", "infer", "postprocess") summed over timed studies."""

    studies: int = 0
    seconds: Mapping[str, float] = field(default_factory=dict)

    def mean(self, stage: str) -> float | None:
        """Mean seconds per study for `stage`, None when no study was timed."""
        if self.studies == 0 or stage not in self.seconds:
            return None
        return self.seconds[stage] / self.studies

    @property
    def worker_seconds(self) -> float:
        return sum(self.seconds.values())

    @property
    def studies_per_worker_second(self) -> float | None:
        """Throughput of one worker doing the stages back to back (no overlap counted)."""
        total = self.worker_seconds
        return self.studies / total if total > 0 else None

    def __add__(self, other: StageTiming) -> StageTiming:
        seconds = Counter(self.seconds)
        seconds.update(other.seconds)
        return StageTiming(self.studies + other.studies, dict(seconds))


@dataclass(frozen=True)
class Aggregation:
    """Counts per group at the level `by`; `rollup` gives any coarser level."""

    by: tuple[str, ...]
    groups: Mapping[GroupKey, Mapping[str, int]]
    timings: Mapping[GroupKey, StageTiming]
    reasons: tuple[str, ...]
    """Quarantine reasons seen anywhere in the campaign, sorted."""

    @property
    def measures(self) -> tuple[str, ...]:
        """Every measure, in report order (reasons only where some study had them)."""
        extra = (_MISSING_CATEGORY,) if any(
            g.get(_MISSING_CATEGORY) for g in self.groups.values()) else ()
        split = (LUNGS_NOT_COVERED, AWAITING_PRIOR) if any(
            g.get(AWAITING_PRIOR) for g in self.groups.values()) else ()
        return (SEEN, SCREENED, QUARANTINED, OPTED_OUT, POSITIVE, *TECHNICAL_MEASURES,
                *(reason_measure(r) for r in self.reasons),
                *CATEGORY_MEASURES, *extra, *split, *SIZE_MEASURES,
                *round_measures(self.groups.values()))

    def rollup(self, dims: Sequence[str]) -> dict[GroupKey, Counter[str]]:
        """Counts per group at the level `dims` (a subset of `by`, any order kept as `by`)."""
        index = _level_index(self.by, dims)
        out: dict[GroupKey, Counter[str]] = {}
        for key, counts in self.groups.items():
            out.setdefault(tuple(key[i] for i in index), Counter()).update(counts)
        return out

    def rollup_timings(self, dims: Sequence[str]) -> dict[GroupKey, StageTiming]:
        """Stage timings per group at the level `dims`."""
        index = _level_index(self.by, dims)
        out: dict[GroupKey, StageTiming] = {}
        for key, timing in self.timings.items():
            k = tuple(key[i] for i in index)
            out[k] = out.get(k, StageTiming()) + timing
        return out


def _level_index(by: tuple[str, ...], dims: Sequence[str]) -> list[int]:
    unknown = [d for d in dims if d not in by]
    if unknown:
        raise ValueError(f"cannot roll up to {list(dims)}: {unknown} not in by={list(by)}")
    return [by.index(d) for d in by if d in dims]


def _check_by(by: Sequence[str]) -> tuple[str, ...]:
    problem = grouping_problem(by)
    if problem is not None and problem.kind != "empty":
        raise ValueError(
            f"cannot group by {list(by)}: expected distinct names from {list(DIMENSIONS)}")
    return tuple(by)


def _count(result: StudyResult, counts: Counter[str]) -> None:
    counts[SEEN] += 1
    due = technical_recall(result)
    if due is not None:
        counts[TECHNICAL] += 1
        counts[f"{TECHNICAL}.{due[1].value}"] += 1
    if result.outcome is Outcome.OPTED_OUT:
        counts[OPTED_OUT] += 1
    elif result.outcome is Outcome.QUARANTINED:
        counts[QUARANTINED] += 1
        reason = str(result.reason) if result.reason is not None else _UNSPECIFIED_REASON
        counts[reason_measure(reason)] += 1
    else:
        counts[SCREENED] += 1
        if result.category is None:
            counts[_MISSING_CATEGORY] += 1
        else:
            counts[f"category.{result.category.value}"] += 1
            if result.category is Category.INCOMPLETE:
                counts[AWAITING_PRIOR if result.reason is Reason.PRIOR_NOT_FOUND
                       else LUNGS_NOT_COVERED] += 1
            if result.category in POSITIVE_CATEGORIES:
                counts[POSITIVE] += 1
        counts[f"largest_nodule.{size_bin(result.nodules)}"] += 1
        count_round(result, counts)


def aggregate(results: Iterable[StudyResult], by: Sequence[str] = ("region",)) -> Aggregation:
    """Count `results` (read once, streaming) per group of the dimensions `by`.

    Memory grows with the number of groups, not of results. Raises ValueError for an
    unknown dimension name.
    """
    dims = _check_by(by)
    groups: dict[GroupKey, Counter[str]] = {}
    seconds: dict[GroupKey, Counter[str]] = {}
    timed: Counter[GroupKey] = Counter()
    reasons: set[str] = set()
    for result in results:
        key = tuple(str(getattr(result, d)) for d in dims)
        counts = groups.get(key)
        if counts is None:
            counts = groups[key] = Counter()
            seconds[key] = Counter()
        _count(result, counts)
        if result.outcome is Outcome.QUARANTINED:
            reasons.add(str(result.reason) if result.reason is not None else _UNSPECIFIED_REASON)
        if result.timings:
            timed[key] += 1
            seconds[key].update({k: float(v) for k, v in result.timings.items()})
    return Aggregation(
        by=dims,
        groups=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in groups.items()}),
        timings=MappingProxyType(
            {k: StageTiming(timed[k], dict(seconds[k])) for k in groups}),
        reasons=tuple(sorted(reasons)),
    )
