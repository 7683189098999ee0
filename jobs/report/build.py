"""The analyst's report: suppressed counts and rates per group (renderers: jobs.report.formats).

`build_report` is the only way to a `Report`, and it suppresses: a count that is hidden is
None in the report itself, so no renderer can show it. Suppression runs over the whole cube
of the `by` dimensions (every subset of them, jobs.report.cube) while the report lists the
campaign total and the prefixes of `by` (region, then region and site, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from jobs.report.aggregate import (
    DIMENSIONS,
    OPTED_OUT,
    POSITIVE,
    QUARANTINED,
    SCREENED,
    SEEN,
    TECHNICAL,
    Aggregation,
    GroupKey,
    StageTiming,
    aggregate,
    grouping_problem,
    wilson_interval,
)
from jobs.report.agreement import ReadingAgreement, reading_agreement
from jobs.report.cube import Level, build_cube
from jobs.report.suppression import suppress
from kernel.defaults import MIN_CELL
from kernel.errors import BadInput

if TYPE_CHECKING:
    from jobs.store import ResultsStore

__all__ = ["PENDING", "STAGES", "SUPPRESSED", "Rate", "Report", "ReportRow", "build_report",
           "campaign_report", "parse_by"]

SUPPRESSED = "suppressed"
PENDING = "pending"
"""Studies planned and not yet done: operational, not about anyone's health, so it is not
suppressed on its own, but it is hidden wherever the group's "seen" is (seen + pending
would give it away)."""
"""How a hidden count is written in every format but JSON (where it is null)."""

STAGES = ("load", "infer", "postprocess", "compare")  # compare: against the prior (jobs.rounds)


@dataclass(frozen=True)
class Rate:
    """A proportion with its Wilson 95% interval; all None when it cannot be published."""

    value: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class ReportRow:
    """One published group: its level (dimension names), key (their values) and counts."""

    level: Level
    key: GroupKey
    counts: Mapping[str, int | None]
    """Measure -> count; None when suppressed."""
    positive_rate: Rate
    timing: StageTiming | None
    technical_recall_rate: Rate = Rate(None, None, None)
    """Studies to re-scan or read by hand over the studies examined (screened +
    quarantined), with its Wilson 95% interval."""

    @property
    def label(self) -> str:
        return " / ".join(self.key) if self.key else "all"

    def value(self, dim: str) -> str:
        """This row's value for dimension `dim`, "" when the row is not split by it."""
        return self.key[self.level.index(dim)] if dim in self.level else ""


@dataclass(frozen=True)
class Report:
    """A suppressed regional summary of one campaign."""

    campaign_id: str
    by: tuple[str, ...]
    min_cell: int
    measures: tuple[str, ...]
    rows: tuple[ReportRow, ...]
    hidden_cells: int
    unaudited_cells: int = 0
    """Hidden cells protected by row/column rules only (a group too large to solve)."""
    studies_per_second: float | None = None
    """Operational throughput (for ops, not analysts; the HTML keeps it apart)."""
    generated_at: datetime | None = None
    model: str = ""
    """The model (name and version) whose results these are, when known."""
    period: tuple[datetime | None, datetime | None] = (None, None)
    """The first and latest commit of results: the data the report covers."""
    reading: ReadingAgreement | None = None
    """The reading worklist's AI-reader agreement (jobs.report.agreement), under the same
    threshold; None when the campaign has no worklist."""

    def rows_at(self, level: Sequence[str]) -> list[ReportRow]:
        return [r for r in self.rows if r.level == tuple(level)]


def _rate(counts: Mapping[str, int | None]) -> Rate:
    return _proportion(counts.get(POSITIVE), counts.get(SCREENED))


def _technical_rate(counts: Mapping[str, int | None]) -> Rate:
    """technical_recall / examined, examined = screened + quarantined = seen - opted_out
    (whichever pair is published)."""
    screened, quarantined = counts.get(SCREENED), counts.get(QUARANTINED)
    seen, opted_out = counts.get(SEEN), counts.get(OPTED_OUT)
    examined = (screened + quarantined if screened is not None and quarantined is not None
                else seen - opted_out if seen is not None and opted_out is not None else None)
    return _proportion(counts.get(TECHNICAL), examined)


def _proportion(k: int | None, n: int | None) -> Rate:
    """k / n with its Wilson 95% interval; all None when either is hidden or n is 0."""
    if k is None or n is None or n == 0:
        return Rate(None, None, None)
    low, high = wilson_interval(k, n)
    return Rate(k / n, low, high)


def _pending(by: tuple[str, ...], pending: Mapping[str, int] | None
             ) -> dict[Level, dict[GroupKey, int]]:
    if pending is None:
        return {}
    out: dict[Level, dict[GroupKey, int]] = {(): {(): sum(pending.values())}}
    if by[:1] == ("region",):
        out[("region",)] = {(region,): n for region, n in pending.items()}
    return out


def build_report(
    campaign_id: str,
    aggregation: Aggregation,
    *,
    by: Sequence[str] = ("region",),
    min_cell: int = MIN_CELL,
    pending: Mapping[str, int] | None = None,
    studies_per_second: float | None = None,
    audit_limit: int = 400,
    model: str = "",
    period: tuple[datetime | None, datetime | None] = (None, None),
) -> Report:
    """Suppress `aggregation` and keep the groups of `by` and its coarser prefixes.

    `aggregation` must be grouped by every dimension in `by` (jobs.report.aggregate). `pending` is
    the number of studies not yet done per region, for the progress columns.
    """
    by = tuple(by)
    missing = [d for d in by if d not in aggregation.by]
    if missing:
        raise ValueError(f"report by {list(by)} needs results grouped by {missing} too")
    cube = build_cube(aggregation, by)
    result = suppress(cube.values, cube.lines, min_cell, audit_limit=audit_limit)
    hidden = result.hidden
    groups = {level: dict(cube.groups[level]) for level in (by[:n] for n in range(len(by) + 1))}
    pending_at = _pending(by, pending)
    finished = pending is not None and not any(pending.values())
    for level, waiting in pending_at.items():  # regions with only pending studies
        for key in waiting:
            groups[level].setdefault(key, dict.fromkeys(cube.measures, 0))
    rows: list[ReportRow] = []
    for level, level_groups in groups.items():
        timings = aggregation.rollup_timings(level)
        for key, cells in level_groups.items():
            counts: dict[str, int | None] = {
                m: (None if (level, key, m) in hidden else v) for m, v in cells.items()}
            if level in pending_at:
                # a finished campaign's zero pending reveals nothing: it is always shown
                counts[PENDING] = (None if counts[SEEN] is None and not finished
                                   else pending_at[level].get(key, 0))
            timing = timings.get(key) if counts[SEEN] is not None else None
            rows.append(ReportRow(level, key, counts, _rate(counts), timing,
                                  _technical_rate(counts)))
    rows.sort(key=lambda r: (len(r.level), r.key))
    progress = (PENDING,) if pending is not None else ()
    return Report(campaign_id, by, min_cell, cube.measures + progress, tuple(rows),
                  len(hidden), result.unaudited, studies_per_second,
                  generated_at=datetime.now(UTC), model=model, period=period)


def parse_by(text: str) -> tuple[str, ...]:
    """`--by region,site` as a tuple; ValueError naming the accepted dimensions."""
    by = tuple(d.strip() for d in text.split(",") if d.strip())
    if grouping_problem(by) is not None:
        raise ValueError(f"--by {text!r}: expected distinct names from {', '.join(DIMENSIONS)}, "
                         "comma-separated (e.g. region,site)")
    return by


def campaign_report(store: ResultsStore, campaign_id: str, *, by: Sequence[str] = ("region",),
                    min_cell: int = MIN_CELL) -> Report:
    """The suppressed report of a stored campaign: its results, progress and throughput.

    Reads the results once (streaming), and the reading worklist's tasks and decisions
    when it has one (`Report.reading`). Pending studies per region come from the shard
    ledger; studies per second is the done studies over the time from the campaign's
    creation to its latest commit. BadInput (from the store) for an unknown campaign.
    """
    campaign = store.campaign(campaign_id)
    if campaign is None:
        known = ", ".join(c.id for c in store.campaigns()) or "none"
        raise BadInput(f"unknown campaign {campaign_id!r}; the store holds: {known}")
    progress = store.progress(campaign_id)
    pending = {r: max(0, p.studies_planned - p.studies_done) for r, p in progress.items()}
    done = sum(p.studies_done for p in progress.values())
    first, last = store.commit_span(campaign_id)
    rate = None
    if last is not None and done:
        elapsed = (last - campaign.created_at).total_seconds()
        rate = done / elapsed if elapsed > 0 else None
    aggregation = aggregate(store.results(campaign_id), by=by)
    report = build_report(campaign_id, aggregation, by=by, min_cell=min_cell, pending=pending,
                          studies_per_second=rate,
                          model=f"{campaign.model_name} v{campaign.model_version}",
                          period=(first, last))
    tasks = store.reading_tasks(campaign_id)
    if not tasks:
        return report
    reading = reading_agreement(tasks, store.confirmed(campaign_id), min_cell=min_cell)
    return replace(report, reading=reading)
