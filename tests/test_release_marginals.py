"""The marginal query families and their reconciliation: the least-squares estimate is the
exact fit of every family under the tree (checked against a dense solver), keeps exact
counts exact, reads a node's total far more precisely than a sum of its cells, and rounds
into non-negative integers that add up through the tree and to each node's outcome counts."""

from __future__ import annotations

import numpy as np
import pytest

from jobs.release.marginals import (
    FAMILIES,
    estimate,
    family_matrices,
    queries,
    reconcile_families,
    repair,
)
from jobs.release.reconcile import children_of

# campaign, two regions, three sites under the first and two under the second
PARENTS = [-1, 0, 0, 1, 1, 1, 2, 2]
SHAPE = (3, 2, 4)  # age bands, sexes, outcomes
CELLS = 3 * 2 * 4


def _counts(rng: np.random.Generator) -> np.ndarray:
    counts = np.zeros((len(PARENTS), CELLS), dtype=np.int64)
    kids = children_of(PARENTS)
    for node in reversed(range(len(PARENTS))):
        counts[node] = (counts[kids[node]].sum(axis=0) if kids[node]
                        else rng.poisson(3.0, CELLS))
    return counts


def test_exact_counts_stay_exact():
    counts = _counts(np.random.default_rng(1))
    q = queries(counts, SHAPE)
    assert q.size == len(PARENTS) * (CELLS + 4 + 6 + 1)
    assert np.allclose(estimate(q.astype(float), PARENTS, SHAPE), counts)
    assert (reconcile_families(q.astype(float), PARENTS, SHAPE) == counts).all()


def test_the_estimate_is_the_least_squares_fit_of_every_family():
    rng = np.random.default_rng(2)
    noisy = queries(_counts(rng), SHAPE) + rng.normal(0, 3, size=len(PARENTS) * 35)
    leaves = [i for i, k in enumerate(children_of(PARENTS)) if not k]
    # the dense design: every family of every node as a sum of the leaves' cells
    under = np.zeros((len(PARENTS), len(leaves)))
    for j, leaf in enumerate(leaves):
        node = leaf
        while node >= 0:
            under[node, j] = 1
            node = PARENTS[node]
    stacked = np.vstack([np.vstack([np.kron(under[n:n + 1], d)
                                    for d in family_matrices(SHAPE)])
                         for n in range(len(PARENTS))])
    fit, *_ = np.linalg.lstsq(stacked, noisy, rcond=None)
    expected = (np.kron(under, np.eye(CELLS)) @ fit).reshape(len(PARENTS), CELLS)
    assert np.allclose(estimate(noisy, PARENTS, SHAPE), expected)


def test_a_node_total_reads_its_measured_total_not_a_sum_of_cell_noise():
    rng = np.random.default_rng(3)
    counts = _counts(rng)
    errors: dict[tuple[str, ...], list[float]] = {FAMILIES: [], ("cells",): []}
    for families in errors:
        q = queries(counts, SHAPE, families).astype(float)
        for _ in range(300):
            x = estimate(q + rng.normal(0, 1, q.size), PARENTS, SHAPE, families)
            errors[families].append(float(x[0].sum() - counts[0].sum()))
    with_margins, cells_only = (np.var(errors[f]) for f in errors)
    # cells only: about 24 cells' noise (less the tree's averaging); with the total measured
    # at every node, less than one count's
    assert cells_only > 10
    assert with_margins < 1.0


def test_reconciled_cells_add_up_through_the_tree_and_to_each_outcome():
    rng = np.random.default_rng(4)
    counts = _counts(rng)
    for _ in range(20):
        noisy = queries(counts, SHAPE) + rng.normal(0, 4, size=len(PARENTS) * 35)
        base = reconcile_families(noisy, PARENTS, SHAPE)
        assert base.dtype == np.int64 and (base >= 0).all()
        for node, kids in enumerate(children_of(PARENTS)):
            if kids:
                assert (base[kids].sum(axis=0) == base[node]).all()
        x = estimate(noisy, PARENTS, SHAPE).reshape(len(PARENTS), -1, SHAPE[2]).sum(axis=1)
        outcome = base.reshape(len(PARENTS), -1, SHAPE[2]).sum(axis=1)
        assert np.abs(outcome - x).max() < 6  # rounding moves an outcome count a little


def test_repair_moves_units_within_columns_to_the_row_totals():
    x = np.array([[5, 0, 2], [0, 3, 1], [1, 1, 0]], dtype=np.int64)
    target = x.astype(float)
    rows = np.array([4, 5, 4], dtype=np.int64)
    fixed = repair(x, target, rows)
    assert (fixed.sum(axis=1) == rows).all() and (fixed.sum(axis=0) == x.sum(axis=0)).all()
    assert (fixed >= 0).all()
    with pytest.raises(ValueError, match="same total"):
        repair(x, target, rows + 1)


def test_unknown_families_are_refused():
    with pytest.raises(ValueError, match="unknown query families"):
        family_matrices(SHAPE, ("cells", "postcode"))
