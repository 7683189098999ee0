"""Measuring one increment: the results committed since the previous increment, counted at
every level of the geography tree, noised once (jobs.release.noise), reconciled once
(jobs.release.reconcile) and appended to the store's base. After this the increment's
per-study rows are never read for analysts again: their tables come from the base.

A person counts once per increment: of several results of one patient pseudonym in an
increment, the first committed is measured and the others are counted as excluded (the
increment's record says how many; the sensitivity assumes one result per person).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from jobs.release.budget import DEFAULT_RHO, Budget, check_budget
from jobs.release.domain import LEVELS, Domain, outcome_of
from jobs.release.marginals import FAMILIES, queries, reconcile_families
from jobs.release.noise import MECHANISM, noisy_counts
from jobs.spec.sources import OTHER_SITE
from jobs.store import ResultsStore
from jobs.store.release import BaseCell, Cell, ReleaseIncrement, ReleaseMeasurement
from kernel.errors import BadInput, PermanentError

__all__ = ["DEFAULT_RHO", "Measured", "measure_increment"]  # DEFAULT_RHO: jobs.release.budget

log = logging.getLogger("jobs")


@dataclass(frozen=True)
class Measured:
    """An increment just measured: its record, its measurement and the base cells stored."""

    increment: ReleaseIncrement
    measurement: ReleaseMeasurement
    cells: int


def _check_boundary(store: ResultsStore, campaign_id: str,
                    previous: list[ReleaseIncrement]) -> datetime | None:
    if not previous:
        return None
    after = previous[-1].last_commit
    measured = sum(i.results + i.excluded for i in previous)
    found = store.measured_before(campaign_id, after)
    if found != measured:
        raise PermanentError(
            f"campaign {campaign_id!r}: {found} results committed at or before increment "
            f"{previous[-1].seq}'s end ({after.isoformat()}), but the increments measured "
            f"{measured}; a result committed behind the boundary (a clock set back?). "
            "Nothing measured: check the driver hosts' clocks")
    return after


def _sites(store: ResultsStore, campaign_id: str, cells: Iterable[Cell]
           ) -> dict[str, set[str]]:
    """The geography the increment is measured over: the campaign's regions, each with the
    sites it declared (jobs.spec.sources.RegionSpec.sites, recorded at the campaign's
    start) and `other`. Never a site read from the results: which sites exist then says
    nothing about anyone (a one-off spelling of an institution is not a one-person site).
    A result at a site its region did not declare (a store from before declared sites)
    counts under the region's `other`."""
    declared = store.declared_sites(campaign_id)
    regions = store.planned_regions(campaign_id) | set(declared) | {c[0] for c in cells}
    return {r: {OTHER_SITE, *declared.get(r, ())} for r in regions}


def _counts(domain: Domain, cells: Counter[Cell]) -> tuple[NDArray[np.int64], int]:
    """The counts (nodes x demographic cells) and how many results were recoded (codes
    outside the domain counted as unknown)."""
    nodes = domain.nodes
    index = {(n.level, n.region, n.site): i for i, n in enumerate(nodes)}
    counts = np.zeros((len(nodes), domain.demographic_cells), dtype=np.int64)
    recoded = 0
    for (region, site, age_band, sex, outcome, category, reason), n in cells.items():
        if not domain.in_domain(age_band, sex):
            recoded += n
        cell = domain.cell_index(age_band, sex, outcome_of(outcome, category, reason))
        known = index.get((LEVELS[2], region, site))
        for node in (index[(LEVELS[0], "", "")], index[(LEVELS[1], region, "")],
                     index[(LEVELS[2], region, OTHER_SITE)] if known is None else known):
            counts[node, cell] += n
    return counts, recoded


def measure_increment(store: ResultsStore, campaign_id: str, *, rho: float | None = None,
                      budget: Budget | None = None, now: datetime | None = None
                      ) -> Measured | None:
    """Measure the results committed since the campaign's last increment into the base, at
    `budget`'s rho per increment (`rho`, when given, overrides it, under the same total
    per person: a rho above that total is BadInput; default: the defaults).

    None when nothing new has committed (nothing is measured, no budget spent). BadInput
    for an unknown campaign or a bad rho; BudgetExhausted (a PermanentError) when the
    increment would take persons past the budget's total; PermanentError when results
    committed behind the last boundary or OpenDP's accounting disagrees. Nothing is
    stored after any refusal.
    """
    budget = budget or Budget()
    if rho is not None:
        budget = Budget(rho, budget.total)  # never raises the total per person
    if store.campaign(campaign_id) is None:
        known = ", ".join(c.id for c in store.campaigns()) or "none"
        raise BadInput(f"unknown campaign {campaign_id!r}; the store holds: {known}")
    previous = store.increments(campaign_id)
    after = _check_boundary(store, campaign_id, previous)
    found = store.unreleased(campaign_id, after)
    if found is None:
        return None
    version = store.release_version()  # what the budget below is read at
    check_budget(found.persons, store.spent_of(found.persons), budget)
    domain = Domain.over(_sites(store, campaign_id, found.cells))
    counts, recoded = _counts(domain, found.cells)
    shape = (len(domain.age_bands), len(domain.sexes), len(domain.outcomes))
    measured = queries(counts, shape, FAMILIES)
    noisy = noisy_counts(measured.tolist(), rho=budget.rho, levels=len(LEVELS),
                         families=len(FAMILIES))
    base = reconcile_families(np.array(noisy.values, dtype=np.float64),
                              [n.parent for n in domain.nodes], shape, FAMILIES)
    seq = (previous[-1].seq if previous else 0) + 1
    cells = _cells(domain, base, seq)
    increment = ReleaseIncrement(campaign_id, seq, found.first_commit, found.last_commit,
                                 found.cells.total(), found.excluded, recoded,
                                 now or datetime.now(UTC))
    measurement = ReleaseMeasurement(seq, MECHANISM, LEVELS, noisy.sensitivity, noisy.sigma,
                                     noisy.rho, int(measured.size),
                                     {**domain.to_json(), "families": list(FAMILIES),
                                      "budget": budget.to_json()})
    store.append_increment(increment, measurement, cells, version=version)
    log.info("release: campaign %s increment %d measured (%d counts, sigma %.3f, rho %s)",
             campaign_id, seq, measured.size, noisy.sigma, noisy.rho)
    return Measured(increment, measurement, len(cells))


def _cells(domain: Domain, base: NDArray[np.int64], seq: int) -> list[BaseCell]:
    nodes = domain.nodes
    out = []
    for node_i, cell_i in zip(*np.nonzero(base), strict=True):
        node = nodes[int(node_i)]
        age_band, sex, outcome = domain.demographic(int(cell_i))
        out.append(BaseCell(seq, node.level, node.region, node.site, age_band, sex, outcome,
                            int(base[node_i, cell_i])))
    return out
