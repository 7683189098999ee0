"""The cells a report can publish and the additive lines between them, for suppression.

A cube over dimensions D holds one group per observed combination at every level (every
subset of D: the campaign total, per region, per region and sex, ...) and, per group, every
measure of jobs.report.aggregate. Lines tie it together the ways a reader could: inside a group
(seen = screened + quarantined + opted_out, ...), and across levels (a region's count =
the sum of its sites' counts, for every dimension that refines the level).

Suppressing over the whole cube once, and publishing only some of its levels, keeps every
report of a campaign consistent with every other: one cannot difference two reports with
different `--by` to reveal a cell hidden in either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from jobs.report.aggregate import (
    AWAITING_PRIOR,
    CATEGORY_MEASURES,
    LUNGS_NOT_COVERED,
    OPTED_OUT,
    POSITIVE,
    QUARANTINED,
    SCREENED,
    SEEN,
    SIZE_MEASURES,
    TECHNICAL_MEASURES,
    Aggregation,
    GroupKey,
)
from jobs.report.round_measures import SHIFTS, WITH_PRIOR
from jobs.report.suppression import Line
from kernel.lungrads import Category
from kernel.next_steps import NEXT_STEPS, UNSPECIFIED, NextStep

__all__ = ["Cube", "CubeCell", "Level", "build_cube"]

Level = tuple[str, ...]
CubeCell = tuple[Level, GroupKey, str]
"""(level dimensions, group key, measure)."""


@dataclass(frozen=True)
class Cube:
    """Every cell value and line of one campaign's aggregation."""

    dims: tuple[str, ...]
    measures: tuple[str, ...]
    groups: Mapping[Level, Mapping[GroupKey, Mapping[str, int]]]
    lines: tuple[Line[CubeCell], ...]

    @property
    def values(self) -> dict[CubeCell, int]:
        return {(level, key, m): v for level, groups in self.groups.items()
                for key, counts in groups.items() for m, v in counts.items()}


def _levels(dims: Sequence[str]) -> list[Level]:
    return [tuple(c) for n in range(len(dims) + 1) for c in combinations(dims, n)]


def _group_lines(level: Level, key: GroupKey, counts: Mapping[str, int],
                 measures: Sequence[str]) -> list[Line[CubeCell]]:
    def cell(m: str) -> CubeCell:
        return (level, key, m)

    reasons = [m for m in measures if m.startswith(QUARANTINED + ".")]
    categories = [m for m in measures if m.startswith("category.")]
    positives = [m for m in CATEGORY_MEASURES[3:] if m in counts]
    out = [
        Line(cell(SEEN), (cell(SCREENED), cell(QUARANTINED), cell(OPTED_OUT))),
        Line(cell(QUARANTINED), tuple(cell(m) for m in reasons)),
        Line(cell(SCREENED), tuple(cell(m) for m in categories)),
        Line(cell(SCREENED), tuple(cell(m) for m in SIZE_MEASURES)),
        Line(cell(POSITIVE), tuple(cell(m) for m in positives)),
        Line(cell(TECHNICAL_MEASURES[0]), tuple(cell(m) for m in TECHNICAL_MEASURES[1:])),
    ]
    if WITH_PRIOR in measures:
        out.append(Line(cell(WITH_PRIOR), tuple(cell(m) for m in SHIFTS)))
        out.append(Line(cell(WITH_PRIOR), tuple(cell(m) for m in measures
                                                if m.startswith("transition."))))
    if AWAITING_PRIOR in measures:
        out.append(Line(cell(f"category.{Category.INCOMPLETE.value}"),
                        (cell(LUNGS_NOT_COVERED), cell(AWAITING_PRIOR))))
    for step, measure in zip((NextStep.REPEAT_SCAN, NextStep.MANUAL_READ),
                             TECHNICAL_MEASURES[1:], strict=True):
        out.append(Line(cell(measure), tuple(cell(m) for m in _of_step(step, measures))))
    return out


def _of_step(step: NextStep, measures: Sequence[str]) -> list[str]:
    """The measures whose studies all need `step` (kernel.next_steps): their reasons, and
    Lung-RADS 0 for a repeat scan, a quarantine without a reason for a manual read."""
    steps = {f"{QUARANTINED}.{r.value}": s for r, s in NEXT_STEPS.items()}
    steps[f"{QUARANTINED}.{UNSPECIFIED}"] = NextStep.MANUAL_READ
    if AWAITING_PRIOR in measures:  # category 0 in its two parts
        steps[LUNGS_NOT_COVERED] = NextStep.REPEAT_SCAN
        steps[AWAITING_PRIOR] = NextStep.MANUAL_READ
    else:
        steps[f"category.{Category.INCOMPLETE.value}"] = NextStep.REPEAT_SCAN
    return [m for m in measures if steps.get(m) is step]


def build_cube(aggregation: Aggregation, dims: Sequence[str] | None = None) -> Cube:
    """The cube of `aggregation` over `dims` (default: all of its `by`)."""
    dims = tuple(dims if dims is not None else aggregation.by)
    measures = aggregation.measures
    groups: dict[Level, dict[GroupKey, dict[str, int]]] = {}
    for level in _levels(dims):
        rolled = aggregation.rollup(level)
        groups[level] = {k: {m: int(v.get(m, 0)) for m in measures} for k, v in rolled.items()}
        if not level and not groups[level]:
            groups[level] = {(): dict.fromkeys(measures, 0)}

    lines: list[Line[CubeCell]] = []
    for level, level_groups in groups.items():
        for key, counts in level_groups.items():
            lines.extend(_group_lines(level, key, counts, measures))
        for d in dims:
            if d in level:
                continue
            finer = tuple(x for x in dims if x in level or x == d)
            keep = [finer.index(x) for x in level]
            children: dict[GroupKey, list[GroupKey]] = {}
            for child in groups[finer]:
                children.setdefault(tuple(child[i] for i in keep), []).append(child)
            for key, counts in level_groups.items():
                kids = sorted(children.get(key, []))
                for m in counts:
                    lines.append(Line((level, key, m), tuple((finer, k, m) for k in kids)))
    return Cube(dims, measures, groups, tuple(lines))
