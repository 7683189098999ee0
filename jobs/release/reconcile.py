"""Reconciling one increment's noisy levels into consistent non-negative integer counts.
Uses the noisy counts only (post-processing: it costs no privacy).

Every demographic x outcome cell has its own tree (campaign -> regions -> sites), all with the
same shape, so each pass runs over all cells at once.

1. Least squares under the tree's sums (Hay, Rastogi, Miklau, Suciu, VLDB 2010), in two
   linear passes: bottom-up, each node's estimate is the inverse-variance average of its own
   noisy count and the sum of its children's estimates; top-down, each node's children are
   moved to add up to the node, each by a share proportional to its variance. With
   independent noise of one variance this is the exact least-squares fit.
2. Non-negative integers, top down: the campaign's total is the rounded sum of its cells
   (at least 0); then under every node (the campaign's total, then each cell of each node for
   its children) the children are projected onto the non-negative values with the parent's
   sum (the nearest such values in L2: subtract one threshold, clip at zero), and rounded by
   largest remainder (a simple rounder under each parent's total, not the Census's integer
   programme). Children then add up to their parent exactly, at every level.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["children_of", "least_squares", "reconcile", "round_to_totals", "round_tree"]

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]


def children_of(parents: Sequence[int]) -> list[list[int]]:
    kids: list[list[int]] = [[] for _ in parents]
    for i, p in enumerate(parents):
        if p >= 0:
            if p >= i:
                raise ValueError(f"node {i}'s parent {p} does not come before it")
            kids[p].append(i)
        elif i != 0:
            raise ValueError(f"node {i} has no parent; only node 0 (the root) may")
    return kids


def least_squares(noisy: Floats, parents: Sequence[int], variance: float) -> Floats:
    """The consistent least-squares estimate of every node's cells (rows: nodes, parents
    before children; columns: cells), each noisy count having `variance`."""
    kids = children_of(parents)
    z = np.array(noisy, dtype=np.float64)
    var = np.full(len(parents), float(variance))
    for node in reversed(range(len(parents))):  # bottom-up
        if kids[node]:
            below = z[kids[node]].sum(axis=0)
            v_below = var[kids[node]].sum()
            z[node] = (z[node] * v_below + below * variance) / (variance + v_below)
            var[node] = variance * v_below / (variance + v_below)
    x = z.copy()
    for node in range(len(parents)):  # top-down
        if kids[node]:
            gap = x[node] - z[kids[node]].sum(axis=0)
            share = var[kids[node]] / var[kids[node]].sum()
            x[kids[node]] = z[kids[node]] + share[:, None] * gap[None, :]
    return x


def round_to_totals(values: Floats, totals: Ints) -> Ints:
    """Non-negative integers nearest `values` (rows: children; columns: cells) whose every
    column sums to its total (totals >= 0)."""
    k, m = values.shape
    totals = np.asarray(totals, dtype=np.int64)
    if (totals < 0).any():
        raise ValueError("totals must be non-negative")
    # the L2 projection of each column onto {x >= 0, sum x = total}
    desc = -np.sort(-values, axis=0)
    excess = np.cumsum(desc, axis=0) - totals[None, :]
    rank = np.arange(1, k + 1, dtype=np.float64)[:, None]
    kept = desc - excess / rank > 0
    last = k - 1 - np.argmax(kept[::-1], axis=0)
    tau = excess[last, np.arange(m)] / (last + 1)
    projected = np.maximum(values - tau[None, :], 0.0)
    projected[:, totals == 0] = 0.0
    # largest remainder under each total
    floor = np.floor(projected)
    out = floor.astype(np.int64)
    short = totals - out.sum(axis=0)
    order = np.argsort(-(projected - floor), axis=0, kind="stable")
    place = np.empty_like(order)
    np.put_along_axis(place, order, np.broadcast_to(np.arange(k)[:, None], (k, m)), axis=0)
    out += place < np.clip(short, 0, k)[None, :]
    for col in np.flatnonzero(short < 0):  # a float sum a hair over the total
        for row in np.argsort(-out[:, col], kind="stable")[: -short[col]]:
            out[row, col] -= 1
    result: Ints = out
    return result


def reconcile(noisy: Ints | Floats, parents: Sequence[int], variance: float) -> Ints:
    """Consistent, non-negative integer counts from one increment's noisy counts (rows:
    nodes of the geography tree, parents before children, node 0 the root; columns: the
    demographic x outcome cells). Every node's cells equal the sum of its children's."""
    return round_tree(least_squares(np.asarray(noisy, dtype=np.float64), parents, variance),
                      parents)


def round_tree(x: Floats, parents: Sequence[int]) -> Ints:
    """Non-negative integers near consistent estimates `x` (rows: nodes, parents before
    children; columns: cells), top down: the root's total is x's rounded (at least 0), then
    every node's children add up to it, cell by cell."""
    kids = children_of(parents)
    out = np.zeros(x.shape, dtype=np.int64)
    total = max(0, int(np.rint(x[0].sum())))
    out[0] = round_to_totals(x[0][:, None], np.array([total], dtype=np.int64))[:, 0]
    for node in range(len(parents)):
        if kids[node]:
            out[kids[node]] = round_to_totals(x[kids[node]], out[node])
    return out
