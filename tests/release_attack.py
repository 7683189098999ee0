"""An attacker against the analysts' release (helpers for tests/test_release_attack.py):
publish many tables (groupings x periods of whole increments) derived from the release base,
then solve every published number together for the finest cells of each increment (region x
site x age band x sex x outcome) by an exact integer programme (scipy's milp, HiGHS), by
least squares and rounding, and by averaging every published number that is exactly one
cell. Scored as the share of true counts 1-10 the attacker gets exactly right, beside two
yardsticks: reading the noisy base itself (what every release is derived from), and a guess
that reads no count at all (every cell not published as zero holds 1; most small counts
are 1, so smoothing methods such as minimum-norm least squares drift towards it).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix
from scipy.sparse.linalg import lsqr

from jobs.ingest.privacy.age import UNKNOWN
from jobs.release import released_table
from jobs.release.domain import Domain, outcome_of
from jobs.store import ResultsStore
from kernel.records import StudyResult

__all__ = ["Attack", "Cell", "attack", "recoded", "single_measurement_rate", "truth"]

DIMS = ("region", "site", "age_band", "sex")
Cell = tuple[int, str, str, str, str, str]  # increment, region, site, age band, sex, outcome


def recoded(r: StudyResult) -> StudyResult:
    """As measured: codes outside the domain read as unknown."""
    codes = Domain(())
    return dataclasses.replace(
        r, age_band=r.age_band if r.age_band in codes.age_bands else UNKNOWN,
        sex=r.sex if r.sex in codes.sexes else UNKNOWN)


def truth(batches: Sequence[Sequence[StudyResult]]) -> Counter[Cell]:
    """The true finest counts of each increment (batch k is increment k + 1)."""
    out: Counter[Cell] = Counter()
    for seq, batch in enumerate(batches, start=1):
        for r in map(recoded, batch):
            out[(seq, r.region, r.site, r.age_band, r.sex, outcome_of(
                r.outcome.value, r.category.value if r.category else None,
                r.reason.value if r.reason else None))] += 1
    return out


def single_measurement_rate(sigma: float) -> float:
    """P(one discrete Gaussian draw at `sigma` is exactly 0): how often one noisy
    measurement of a count reads it exactly."""
    ks = np.arange(-60 * math.ceil(sigma), 60 * math.ceil(sigma) + 1)
    return float(1.0 / np.exp(-(ks ** 2) / (2 * sigma ** 2)).sum())


@dataclass(frozen=True)
class Attack:
    """Exact-recovery rates over the true counts 1-10, by method."""

    releases: int
    numbers: int
    milp: float
    least_squares: float
    averaging: float
    base: float  # reading the stored base itself
    guess: float  # no count read: every cell not published as zero guessed to hold 1


def _equations(store: ResultsStore, campaign_id: str,
               releases: Sequence[tuple[tuple[str, ...], tuple[int, ...]]]
               ) -> list[tuple[dict[str, str], tuple[int, ...], str, int]]:
    eqs = []
    for by, seqs in releases:
        table = released_table(store, campaign_id, by=by, increments=seqs)
        outcomes = set(Domain(()).outcomes)
        for row in table.rows:
            fixed = dict(zip(row.level, row.key, strict=True))
            for measure, value in row.counts.items():
                if measure in outcomes:
                    eqs.append((fixed, seqs, measure, value))
    return eqs


def attack(store: ResultsStore, campaign_id: str, true: Counter[Cell],
           releases: Sequence[tuple[tuple[str, ...], tuple[int, ...]]]) -> Attack:
    """Publish `releases` ((grouping, increments) each), attack them, score the attack."""
    eqs = _equations(store, campaign_id, releases)
    base = {(c.seq, c.region, c.site, c.age_band, c.sex, c.outcome): c.count
            for c in store.release_base(campaign_id, sorted({s for _, ss in releases
                                                             for s in ss}))
            if c.level == "site"}
    measurement = store.measurements(campaign_id)[0]
    domain = Domain.from_json(measurement.domain)
    cells: list[Cell] = [
        (seq, region, site, a, s, o)
        for seq in sorted({s for _, ss in releases for s in ss})
        for region, sites in domain.regions for site in sites
        for a in domain.age_bands for s in domain.sexes for o in domain.outcomes]

    # published zeros pin their cells to 0 (counts are never negative): prune them first
    index = {c: i for i, c in enumerate(cells)}
    lookup: dict[tuple[str, ...], dict[tuple[object, ...], list[int]]] = {}
    zero = np.zeros(len(cells), dtype=bool)
    rows: list[list[int]] = []
    values: list[int] = []
    for fixed, seqs, outcome, value in eqs:
        dims = tuple(fixed)
        if dims not in lookup:
            table: dict[tuple[object, ...], list[int]] = {}
            for i, c in enumerate(cells):
                key = (c[0], c[5], *(c[1 + DIMS.index(d)] for d in dims))
                table.setdefault(key, []).append(i)
            lookup[dims] = table
        group = [i for seq in seqs
                 for i in lookup[dims].get((seq, outcome, *fixed.values()), [])]
        if value == 0:
            zero[group] = True
        else:
            rows.append(group)
            values.append(value)
    live = [i for i in range(len(cells)) if not zero[i]]
    col = {i: j for j, i in enumerate(live)}
    data, ri, ci = [], [], []
    for r, group in enumerate(rows):
        for i in group:
            if i in col:
                data.append(1.0)
                ri.append(r)
                ci.append(col[i])
    a = csr_matrix((data, (ri, ci)), shape=(len(rows), len(live)))
    b = np.array(values, dtype=np.float64)
    solved = milp(np.zeros(len(live)), constraints=LinearConstraint(a, b, b),
                  integrality=np.ones(len(live)), bounds=Bounds(0, np.inf),
                  options={"time_limit": 20})
    ip = np.rint(solved.x) if solved.x is not None else np.zeros(len(live))
    ls = np.clip(np.rint(lsqr(a, b, atol=1e-10, btol=1e-10)[0]), 0, None)
    singles: dict[int, list[int]] = {}
    for group, value in zip(rows, values, strict=True):
        alive = [col[i] for i in group if i in col]
        if len(alive) == 1:
            singles.setdefault(alive[0], []).append(value)
    targets = [c for c, n in true.items() if 1 <= n <= 10 and c in index]

    def rate(guess: dict[Cell, float]) -> float:
        return sum(guess.get(c, 0) == true[c] for c in targets) / len(targets)

    def read(x: np.ndarray) -> dict[Cell, float]:
        return {cells[i]: float(x[j]) for i, j in col.items()}

    averaged = {cells[live[j]]: float(round(np.mean(v))) for j, v in singles.items()}
    return Attack(len(releases), len(eqs), rate(read(ip)), rate(read(ls)), rate(averaged),
                  rate({c: float(v) for c, v in base.items()}),
                  rate({cells[i]: 1.0 for i in live}))
