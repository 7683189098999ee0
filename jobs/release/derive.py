"""Analysts' tables derived from the release base: any grouping of the report's dimensions
over any set of whole increments is a sum of stored base cells, so a cell has one value in
every table, margins add up, and no table costs further privacy.

Each group is read at the most precise level of the geography tree that can answer it: a
grouping without geography reads the campaign level, with region the region level, with site
the site level. Rates and their intervals come from the noisy counts; an interval adds the
noise's variance (sigma^2 per measured count summed: the base cells, or a node's measured
outcome count when the group spans every age band and sex; an upper bound after
reconciliation) to the binomial one (Wilson).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from jobs.release.domain import (
    CAMPAIGN,
    CELL_DIMENSIONS,
    MISSING_CATEGORY,
    POSITIVE_OUTCOMES,
    REGION,
    SITE,
    Domain,
)
from jobs.report.aggregate import (
    CATEGORY_MEASURES,
    OPTED_OUT,
    POSITIVE,
    QUARANTINED,
    SCREENED,
    SEEN,
    GroupKey,
    grouping_problem,
    wilson_interval,
)
from jobs.report.build import Rate
from jobs.store.release import BaseCell, ReleaseIncrement, ReleaseMeasurement
from kernel.errors import BadInput

__all__ = ["ParsedBase", "Privacy", "ReleasedRow", "ReleasedTable", "derive_parsed",
           "derive_table", "parse_base"]

_Z95 = 1.959963984540054


@dataclass(frozen=True)
class Privacy:
    """What every released table publishes about its noise."""

    mechanism: str
    sigma: float | None  # None when the increments used differ
    rho: float | None  # per increment; None when they differ
    increments: tuple[tuple[int, float, float], ...]  # (seq, sigma, rho) of each one used
    rho_total_per_person: float | None = None  # the deployment's budget; None when it varies


@dataclass(frozen=True)
class ReleasedRow:
    """One group of a released table: noisy, consistent counts and the positive rate."""

    level: tuple[str, ...]
    key: GroupKey
    counts: Mapping[str, int]
    positive_rate: Rate


@dataclass(frozen=True)
class ReleasedTable:
    """A table derived from the base: the groups of `by` and its coarser prefixes."""

    campaign_id: str
    by: tuple[str, ...]
    measures: tuple[str, ...]
    rows: tuple[ReleasedRow, ...]
    privacy: Privacy


def _tree_level(level: Sequence[str]) -> str:
    return SITE if "site" in level else REGION if "region" in level else CAMPAIGN


def _measures(outcomes: Mapping[str, int]) -> dict[str, int]:
    out = dict.fromkeys((SEEN, SCREENED, QUARANTINED, OPTED_OUT, POSITIVE), 0)
    for outcome, n in outcomes.items():
        out[SEEN] += n
        out[outcome] = out.get(outcome, 0) + n
        if outcome.startswith("category."):
            out[SCREENED] += n
            out[POSITIVE] += n if outcome in POSITIVE_OUTCOMES else 0
        elif outcome.startswith(QUARANTINED + "."):
            out[QUARANTINED] += n
    return out


def _cells_summed(domain: Domain, level: Sequence[str], key: GroupKey) -> int:
    """Measured counts (per outcome) one group's noise is bounded by in one increment: the
    base cells it sums, zeros included, or the nodes' outcome counts when it sums over every
    age band and sex (those are measured whole, and the least-squares estimate has at most
    the variance of any one measurement it fits)."""
    fixed = dict(zip(level, key, strict=True))
    sites = dict(domain.regions)
    if _tree_level(level) == CAMPAIGN:
        nodes = 1
    elif _tree_level(level) == REGION:
        nodes = 1 if "region" in fixed else len(sites)
    elif "site" in fixed:
        nodes = 1
    else:
        nodes = len(sites.get(fixed["region"], ())) if "region" in fixed else sum(
            len(s) for s in sites.values())
    if "age_band" not in fixed and "sex" not in fixed:
        return max(nodes, 1)  # each node's outcome counts are measured whole
    ages = 1 if "age_band" in fixed else len(domain.age_bands)
    sexes = 1 if "sex" in fixed else len(domain.sexes)
    return max(nodes, 1) * ages * sexes


def _rate(k: int, n: int, noise_k: float, noise_r: float) -> Rate:
    """k of n with a 95% interval: Wilson's half-width and the noise's variance (delta
    method on k / (k + r), r = n - k) added in quadrature."""
    if n <= 0 or not 0 <= k <= n:
        return Rate(None, None, None)
    low, high = wilson_interval(k, n)
    centre, half = (low + high) / 2, (high - low) / 2
    r = n - k
    noise_var = (r * r * noise_k + k * k * noise_r) / n ** 4
    half = math.sqrt(half * half + _Z95 * _Z95 * noise_var)
    return Rate(k / n, max(0.0, centre - half), min(1.0, centre + half))


Sums = Mapping[str, Mapping[tuple[str, str, str, str], Mapping[str, int]]]
_DIMS = CELL_DIMENSIONS  # region, site, age band, sex: a base cell's key


@dataclass(frozen=True)
class ParsedBase:
    """The base of some increments, read once: every table of those increments is cut from
    it. `sums`: per tree level, the counts per outcome of each (region, site, age band, sex),
    summed over the increments."""

    measured: Mapping[int, ReleaseMeasurement]
    domains: Mapping[int, Domain]
    sums: Sums


def parse_base(increments: Sequence[ReleaseIncrement],
               measurements: Sequence[ReleaseMeasurement], cells: Iterable[BaseCell]
               ) -> ParsedBase:
    """The base of exactly `increments` (their measurements and base cells; cells of other
    increments are ignored), summed for derive_parsed."""
    used = {i.seq for i in increments}
    measured = {m.seq: m for m in measurements if m.seq in used}
    missing = sorted(used - set(measured))
    if missing:
        raise BadInput(f"increments {missing} have no measurement record")
    sums: dict[str, dict[tuple[str, str, str, str], Counter[str]]] = {}
    for cell in cells:
        if cell.seq in used:
            key = (cell.region, cell.site, cell.age_band, cell.sex)
            sums.setdefault(cell.level, {}).setdefault(key, Counter())[cell.outcome] += cell.count
    domains = {seq: Domain.from_json(m.domain) for seq, m in measured.items()}
    return ParsedBase(measured, domains, sums)


def derive_table(campaign_id: str, by: Sequence[str], increments: Sequence[ReleaseIncrement],
                 measurements: Sequence[ReleaseMeasurement], cells: Iterable[BaseCell]
                 ) -> ReleasedTable:
    """The released table of `by` over exactly `increments` (their measurements and base
    cells; cells of other increments are ignored). Pure: the same input gives the same table."""
    return derive_parsed(campaign_id, by, parse_base(increments, measurements, cells))


def _group(sums: Sums, levels: Sequence[tuple[str, ...]]
           ) -> dict[tuple[tuple[str, ...], GroupKey], Counter[str]]:
    out: dict[tuple[tuple[str, ...], GroupKey], Counter[str]] = {((), ()): Counter()}
    for level in levels:
        at = [_DIMS.index(d) for d in level]
        for cell, outcomes in sums.get(_tree_level(level), {}).items():
            out.setdefault((level, tuple(cell[i] for i in at)), Counter()).update(outcomes)
    return out


def derive_parsed(campaign_id: str, by: Sequence[str], base: ParsedBase) -> ReleasedTable:
    """The released table of `by` from a parsed base. Pure: the same base and grouping give
    the same table."""
    by = tuple(by)
    problem = grouping_problem(by, _DIMS)
    if problem is not None and problem.kind == "unknown":
        raise BadInput(f"released tables group by {', '.join(_DIMS)}; not "
                       f"{[d for d in by if d not in _DIMS]}")
    sums = _group(base.sums, [by[:n] for n in range(len(by) + 1)])
    measured, domains = base.measured, base.domains
    positive = len(POSITIVE_OUTCOMES)
    screened_other = sum(1 for o in next(iter(domains.values())).outcomes
                         if o.startswith("category.")) - positive if domains else 0
    rows = []
    for (level, key), outcomes in sorted(sums.items(), key=lambda kv: (len(kv[0][0]), kv[0])):
        counts = _measures(outcomes)
        cells_per_outcome = [(measured[s].sigma ** 2, _cells_summed(d, level, key))
                             for s, d in domains.items()]
        noise_k = sum(v * m * positive for v, m in cells_per_outcome)
        noise_r = sum(v * m * screened_other for v, m in cells_per_outcome)
        rate = _rate(counts[POSITIVE], counts[SCREENED], noise_k, noise_r)
        rows.append(ReleasedRow(level, key, counts, rate))
    names = _measure_names(rows)
    rows = [ReleasedRow(r.level, r.key, {m: r.counts.get(m, 0) for m in names}, r.positive_rate)
            for r in rows]
    return ReleasedTable(campaign_id, by, names, tuple(rows), _privacy(measured))


def _measure_names(rows: Sequence[ReleasedRow]) -> tuple[str, ...]:
    present = {m for r in rows for m, v in r.counts.items() if v}
    reasons = sorted(m for m in present if m.startswith(QUARANTINED + "."))
    extra = (MISSING_CATEGORY,) if MISSING_CATEGORY in present else ()
    return (SEEN, SCREENED, QUARANTINED, OPTED_OUT, POSITIVE, *reasons, *CATEGORY_MEASURES,
            *extra)


def _privacy(measured: Mapping[int, ReleaseMeasurement]) -> Privacy:
    seqs = sorted(measured)
    sigmas = {measured[s].sigma for s in seqs}
    rhos = {measured[s].rho for s in seqs}
    totals = {measured[s].domain.get("budget", {}).get("rho_total_per_person") for s in seqs}
    mechanisms = sorted({measured[s].mechanism for s in seqs}) or ["discrete_gaussian"]
    total = totals.pop() if len(totals) == 1 else None
    return Privacy("+".join(mechanisms), sigmas.pop() if len(sigmas) == 1 else None,
                   rhos.pop() if len(rhos) == 1 else None,
                   tuple((s, measured[s].sigma, measured[s].rho) for s in seqs),
                   None if total is None else float(total))
