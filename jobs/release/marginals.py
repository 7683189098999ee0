"""The query families one increment measures at every node of the geography tree, and their
reconciliation into one consistent base (post-processing of the noisy counts only: no
privacy spent, no true count read).

At every node (campaign, each region, each site) four families are counted:

- `cells`: every age band x sex x outcome cell (what any grouping can be cut into);
- `outcome`: the node's count per outcome, summed over age band x sex;
- `age_band_sex`: the node's count per age band x sex, summed over outcomes;
- `total`: the node's count.

A person changes one count of each family at each level: with L levels and F families the
L2 sensitivity is sqrt(L x F) (jobs.release.noise). A sum over many cells then no longer
carries every cell's noise: the node's total and its outcome counts are measured directly.

Reconciling, in two steps:

1. Least squares. All the noisy counts have one variance, so the best consistent estimate
   is the ordinary least-squares fit of the leaf nodes' cells X (leaves x cells) to every
   measured count: a node's family is T X D_f^T (T: node x leaf, 1 where the leaf is under
   the node; D_f: the family's sums over cells). The normal equations factor as
   (T^T T) X G = sum_f T^T Y_f D_f with G = sum_f D_f^T D_f, so X is two small dense
   solves: (T^T T)^-1 on the left (leaves x leaves), G^-1 on the right (cells x cells).
   Every node's estimate is then T X: consistent through the tree and with its marginals.
2. Non-negative integers, coarse before fine: the outcome counts are rounded down the tree
   (jobs.release.reconcile.round_tree: the campaign's total, then each node's children under
   it, each projected onto the non-negative values with that sum and rounded by largest
   remainder); then each leaf's cells are rounded under its outcome counts (the same
   projection and rounder, per outcome over age band x sex); a node above the leaves is
   the sum of its children. So every node's cells add up to its reconciled outcome counts,
   which add up to its total, and children add up to their parent, at every level; a
   grouping by geography reads the outcome counts, the best-measured query it has.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from jobs.release.reconcile import children_of, round_to_totals, round_tree

__all__ = ["FAMILIES", "estimate", "family_matrices", "queries", "reconcile_families",
           "repair"]

FAMILIES = ("cells", "outcome", "age_band_sex", "total")

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
Shape = tuple[int, int, int]  # age bands, sexes, outcomes


def family_matrices(shape: Shape, families: Sequence[str] = FAMILIES) -> list[Floats]:
    """Each family as the matrix that sums a node's cells (age band x sex x outcome, in
    that order) into its counts."""
    eye = [np.eye(n) for n in shape]
    ones = [np.ones((1, n)) for n in shape]
    parts = {"cells": (eye[0], eye[1], eye[2]), "outcome": (ones[0], ones[1], eye[2]),
             "age_band_sex": (eye[0], eye[1], ones[2]), "total": (ones[0], ones[1], ones[2]),
             "sex_outcome": (ones[0], eye[1], eye[2]),
             "age_band_outcome": (eye[0], ones[1], eye[2])}
    unknown = sorted(set(families) - set(parts))
    if unknown:
        raise ValueError(f"unknown query families {unknown}")
    return [np.kron(np.kron(a, b), c) for a, b, c in (parts[f] for f in families)]


def queries(counts: Ints, shape: Shape, families: Sequence[str] = FAMILIES) -> Ints:
    """Every family of every node as one vector, node by node and family by family, from
    `counts` (nodes x cells)."""
    blocks = [counts @ d.T.astype(np.int64) for d in family_matrices(shape, families)]
    out: Ints = np.concatenate(blocks, axis=1).ravel()
    return out


def _under(parents: Sequence[int]) -> Floats:
    """T (node x leaf: 1 where the leaf is the node or below it)."""
    kids = children_of(parents)
    leaves = [i for i, k in enumerate(kids) if not k]
    t = np.zeros((len(parents), len(leaves)))
    for j, leaf in enumerate(leaves):
        node = leaf
        while node >= 0:
            t[node, j] = 1.0
            node = parents[node]
    return t


def estimate(noisy: Sequence[int] | Floats, parents: Sequence[int], shape: Shape,
             families: Sequence[str] = FAMILIES) -> Floats:
    """The least-squares cells (nodes x cells) consistent with the tree and with every
    family measured, from the noisy vector that `queries` gave noise to."""
    nodes = len(parents)
    matrices = family_matrices(shape, families)
    sizes = [d.shape[0] for d in matrices]
    rows = np.asarray(noisy, dtype=np.float64)
    if rows.size != nodes * sum(sizes):
        raise ValueError(f"{rows.size} noisy counts for {nodes} nodes of {sum(sizes)}")
    rows = rows.reshape(nodes, sum(sizes))
    edges = np.cumsum([0, *sizes])
    rhs = sum(rows[:, a:b] @ d for a, b, d in zip(edges[:-1], edges[1:], matrices,
                                                  strict=True))
    g = sum(d.T @ d for d in matrices)
    t = _under(parents)
    x = np.linalg.solve(t.T @ t, t.T @ rhs)
    x = np.linalg.solve(g, x.T).T
    out: Floats = t @ x
    return out


def repair(x: Ints, target: Floats, rows: Ints) -> Ints:
    """`x` (non-negative integers) with units moved within columns until row i adds up to
    rows[i]: column sums are kept and nothing goes below 0. Each move takes one unit from
    the row furthest over its total, out of the cell furthest above its estimate `target`,
    into the same column of the row furthest under its total."""
    if int(x.sum()) != int(rows.sum()):
        raise ValueError("rows must add up to the same total as x")
    x = x.copy()
    gap = x.sum(axis=1) - rows
    while (gap > 0).any():
        over, under = int(np.argmax(gap)), int(np.argmin(gap))
        score = (x[over] - target[over]) - (x[under] - target[under])
        score[x[over] <= 0] = -np.inf
        col = int(np.argmax(score))
        x[over, col] -= 1
        x[under, col] += 1
        gap[over] -= 1
        gap[under] += 1
    return x


def reconcile_families(noisy: Sequence[int] | Floats, parents: Sequence[int], shape: Shape,
                       families: Sequence[str] = FAMILIES) -> Ints:
    """Consistent non-negative integer cells (nodes x cells, parents before children) from
    one increment's noisy families; see the module's note."""
    demo, outcomes = shape[0] * shape[1], shape[2]
    x = estimate(noisy, parents, shape, families).reshape(len(parents), demo, outcomes)
    by_outcome = round_tree(x.sum(axis=1), parents)
    kids = children_of(parents)
    out = np.zeros(x.shape, dtype=np.int64)
    total = by_outcome[0].sum(keepdims=True)
    by_demo = round_to_totals(x[0].sum(axis=1)[:, None], total)[:, 0]
    out[0] = repair(round_to_totals(x[0], by_outcome[0]), x[0], by_demo)
    for node in range(len(parents)):
        if not kids[node]:
            continue
        below = kids[node]
        split = round_to_totals(x[below].reshape(len(below), -1), out[node].ravel())
        split = split.reshape(len(below), demo, outcomes)
        for o in range(outcomes):
            split[:, :, o] = repair(split[:, :, o], x[below, :, o], by_outcome[below, o])
        out[below] = split
    result: Ints = out.reshape(len(parents), -1)
    return result
