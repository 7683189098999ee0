"""The attacker of tests/release_attack.py turned on the tables analysts got before the
release: exact counts with small-cell suppression (jobs.report.build.campaign_report),
pulled over several groupings after each batch of results committed. Every published count
is an equation over the finest cells of the batches committed so far (region x site x age
band x sex x outcome), every suppressed one says "at least 1", and an exact integer
programme (scipy's milp) solves them together. Scored as the release attacker is: the share
of true counts 1-10 (per batch and finest cell) read exactly. Kept as the reason for the
release: each table's own suppression holds; the set of tables does not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix

from jobs.release.domain import Domain
from jobs.report.build import Report
from tests.release_attack import DIMS, Cell

__all__ = ["Pulled", "suppression_attack"]

Pulled = tuple[int, Report]
"""A report pulled after batch k (k = 1.. : batches 1..k committed)."""

_FAMILIES = {"seen": lambda o: True, "screened": lambda o: o.startswith("category."),
             "quarantined": lambda o: o.startswith("quarantined.")}


def suppression_attack(pulled: Sequence[Pulled], sites: dict[str, Sequence[str]],
                       true: Counter[Cell]) -> tuple[float, float, int]:
    """(exact-recovery rate of true counts 1-10 by milp, the no-information guess's rate,
    numbers published) over the reports in `pulled`."""
    batches = max(k for k, _ in pulled)
    domain = Domain.over(sites)
    cells: list[Cell] = [(seq, region, site, a, s, o)
                         for seq in range(1, batches + 1)
                         for region, codes in domain.regions for site in codes
                         for a in domain.age_bands for s in domain.sexes
                         for o in domain.outcomes]
    outcomes = set(domain.outcomes)
    rows: list[list[int]] = []
    low: list[float] = []
    high: list[float] = []
    zero = np.zeros(len(cells), dtype=bool)
    numbers = 0
    lookup: dict[tuple[str, ...], dict[tuple[object, ...], list[int]]] = {}
    for upto, report in pulled:
        for row in report.rows:
            dims = tuple(row.level)
            if dims not in lookup:
                lookup[dims] = {}
                for i, c in enumerate(cells):
                    key = (c[0], c[5], *(c[1 + DIMS.index(d)] for d in dims))
                    lookup[dims].setdefault(key, []).append(i)
            for measure, value in row.counts.items():
                if measure in outcomes:
                    wanted = [measure]
                elif measure in _FAMILIES:
                    wanted = [o for o in domain.outcomes if _FAMILIES[measure](o)]
                else:
                    continue
                group = [i for seq in range(1, upto + 1) for o in wanted
                         for i in lookup[dims].get((seq, o, *row.key), [])]
                if value == 0:
                    zero[group] = True
                    continue
                numbers += value is not None
                rows.append(group)
                low.append(1.0 if value is None else float(value))
                high.append(np.inf if value is None else float(value))
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
    solved = milp(np.zeros(len(live)), constraints=LinearConstraint(a, low, high),
                  integrality=np.ones(len(live)), bounds=Bounds(0, np.inf),
                  options={"time_limit": 20})
    x = np.rint(solved.x) if solved.x is not None else np.zeros(len(live))
    targets = [c for c, n in true.items() if 1 <= n <= 10]
    found = {cells[i]: float(x[j]) for i, j in col.items()}
    rate = sum(found.get(c, 0) == true[c] for c in targets) / len(targets)
    guess = sum(true[c] == 1 and c in found for c in targets) / len(targets)
    return rate, guess, numbers
