"""The release's errors against the exact counts, for `lungscreen bench release`: per base
cell at each level of the geography tree (every cell of the domain, zeros included), and the
positive rate of every group of >= 1,000 screened in the released tables.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from jobs.ingest.privacy.age import UNKNOWN
from jobs.release import ReleasedTable
from jobs.release.domain import LEVELS, Domain, outcome_of
from jobs.store.release import BaseCell
from kernel.lungrads import POSITIVE_CATEGORIES
from kernel.records import Outcome, StudyResult

__all__ = ["ExactRates", "cell_errors", "error_stats", "rate_errors"]

MIN_SCREENED = 1_000
_POSITIVE = frozenset(POSITIVE_CATEGORIES)
Ints = NDArray[np.int64]


def _index(domain: Domain) -> dict[tuple[str, str, str], int]:
    return {(n.level, n.region, n.site): i for i, n in enumerate(domain.nodes)}


def _truth(domain: Domain, results: Iterable[StudyResult]) -> Ints:
    index = _index(domain)
    cells = Counter((r.region, r.site, domain.cell_index(r.age_band, r.sex, outcome_of(
        r.outcome.value, r.category.value if r.category else None,
        r.reason.value if r.reason else None))) for r in results)
    out = np.zeros((len(index), domain.demographic_cells), dtype=np.int64)
    for (region, site, cell), n in cells.items():
        for node in ((LEVELS[0], "", ""), (LEVELS[1], region, ""), (LEVELS[2], region, site)):
            out[index[node], cell] += n
    return out


def _published(domain: Domain, cells: Iterable[BaseCell]) -> Ints:
    index = _index(domain)
    out = np.zeros((len(index), domain.demographic_cells), dtype=np.int64)
    for c in cells:
        out[index[(c.level, c.region, c.site)], domain.cell_index(c.age_band, c.sex,
                                                                  c.outcome)] = c.count
    return out


def cell_errors(domain: Domain, results: Iterable[StudyResult], cells: Iterable[BaseCell]
                ) -> dict[str, Ints]:
    """Published minus exact, per base cell of one increment, by level of the tree."""
    diff = _published(domain, cells) - _truth(domain, results)
    levels = np.array([n.level for n in domain.nodes])
    return {level: diff[levels == level].ravel() for level in LEVELS}


def error_stats(errors: Sequence[float] | NDArray[np.float64] | Ints) -> dict[str, float]:
    """Median and 95th percentile of the absolute errors, and how many."""
    a = np.abs(np.asarray(errors, dtype=np.float64))
    if a.size == 0:
        return {"median": float("nan"), "p95": float("nan"), "max": float("nan"), "n": 0}
    return {"median": round(float(np.median(a)), 3),
            "p95": round(float(np.percentile(a, 95)), 3), "max": round(float(a.max()), 3),
            "n": int(a.size)}


class ExactRates:
    """Exact screened and positive counts of every group, from the results."""

    def __init__(self, results: Iterable[StudyResult]) -> None:
        codes = Domain(())  # codes outside the domain are published as unknown
        self._rows = [((r.region, r.site,
                        r.age_band if r.age_band in codes.age_bands else UNKNOWN,
                        r.sex if r.sex in codes.sexes else UNKNOWN), r.category in _POSITIVE)
                      for r in results
                      if r.outcome is Outcome.SCREENED and r.category is not None]
        self._cache: dict[tuple[str, ...], Counter[tuple[tuple[str, ...], bool]]] = {}

    def of(self, level: tuple[str, ...]) -> Counter[tuple[tuple[str, ...], bool]]:
        """(key, positive) -> screened results, for the groups of `level`."""
        if level not in self._cache:
            at = [("region", "site", "age_band", "sex").index(d) for d in level]
            self._cache[level] = Counter((tuple(key[i] for i in at), positive)
                                         for key, positive in self._rows)
        return self._cache[level]


def rate_errors(tables: Iterable[ReleasedTable], exact: ExactRates) -> list[float]:
    """Published minus exact positive rate (percentage points) of every distinct group of
    >= MIN_SCREENED screened (exact) in `tables`."""
    seen: dict[tuple[tuple[str, ...], tuple[str, ...]], float] = {}
    for table in tables:
        for row in table.rows:
            if (row.level, row.key) in seen:
                continue
            counts = exact.of(row.level)
            pos, neg = counts[(row.key, True)], counts[(row.key, False)]
            if pos + neg >= MIN_SCREENED:
                value = row.positive_rate.value or 0.0
                seen[(row.level, row.key)] = 100 * (value - pos / (pos + neg))
    return list(seen.values())
