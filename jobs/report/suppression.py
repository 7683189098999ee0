"""Small-cell suppression: primary, complementary, and an audit that no hidden cell is solvable.

Policy (shared/reference/reliability-notes.md 4.5, CMS data-use rules):

- Primary: every count from 1 to `min_cell - 1` is hidden. Zero is published (CMS allows
  it) and is never used as a complementary cell, so everyone may assume a hidden cell is
  at least 1; the audit below assumes exactly that.
- Complementary: the cells are tied by additive lines (`Line`: total = sum of members; rows,
  columns, margins and sub-totals of every level). A line with exactly one hidden cell gives
  it away by subtraction, and a line whose hidden cells share a small remainder narrows them
  (two hidden cells summing to 2 are both 1). In such a line the smallest published non-zero
  member is hidden too (its total if no member is left), until nothing changes.
- Audit: row and column rules are not enough (a hidden cell can be solved from a combination
  of lines), so every connected group of hidden cells is solved as a linear programme:
  the smallest and largest value each primary cell can take given every published number,
  every line, and "hidden means at least 1". A small cell passes when that range spans at
  least `protection_span(min_cell)` (3 for 11: a reader is left with 4 or more possible
  values, never the one true value), a safety range in the spirit of tau-ARGUS's frequency
  rule. A failing cell gets one more complementary cell and the process repeats; hiding
  everything always passes, so it ends.
- Rates and percentages derived from a hidden count are hidden by the caller (jobs.report.build).

Cost: most small cells are proven safe in bulk, by a few solutions that push all of them
up (or down) together: a feasible table with a cell `span` away from its true value proves
that cell's range wide enough. Only the rest get their own two programmes, in groups of at
most `audit_limit` hidden cells; in larger groups they get another complementary cell
instead (more hiding, never less protection). Groups over `witness_limit` are protected by
the line rules only and counted in `Suppression.unaudited`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_array

__all__ = ["Line", "Suppression", "feasible_ranges", "protection_span", "suppress"]

C = TypeVar("C", bound=Hashable)


@dataclass(frozen=True)
class Line(Generic[C]):
    """An additive relation a reader can use: value(total) == sum(value(m) for m in members)."""

    total: C
    members: tuple[C, ...]


@dataclass(frozen=True)
class Suppression(Generic[C]):
    """Which cells to hide: `primary` (small counts) and `complementary` (to protect them)."""

    primary: frozenset[C]
    complementary: frozenset[C]
    unaudited: int = 0
    """Hidden cells in groups larger than `audit_limit`: protected by the line rules only."""

    @property
    def hidden(self) -> frozenset[C]:
        return self.primary | self.complementary


def protection_span(min_cell: int) -> int:
    """How wide (largest minus smallest value) a small cell's feasible range must stay:
    max(1, min_cell // 3), i.e. 3 for the default 11 (4 possible values at least)."""
    return max(1, min_cell // 3)


def _sort_key(cell: Hashable, values: Mapping[C, int]) -> tuple[int, str]:
    return (values[cell], repr(cell))  # type: ignore[index]


class _Lines(Generic[C]):
    def __init__(self, values: Mapping[C, int], lines: Sequence[Line[C]]) -> None:
        self.values = values
        self.lines = list(lines)
        self.of: dict[C, list[int]] = {}
        for i, line in enumerate(self.lines):
            for cell in (line.total, *line.members):
                if cell not in values:
                    raise ValueError(f"line {i} names a cell with no value: {cell!r}")
                self.of.setdefault(cell, []).append(i)
            if values[line.total] != sum(values[m] for m in line.members):
                raise ValueError(f"line {i} does not add up: {line!r}")

    def candidate(self, i: int, hidden: set[C], *, allow_total: bool = True) -> C | None:
        """The cell to hide next in line i: smallest published non-zero member, else total."""
        line = self.lines[i]
        open_members = [m for m in line.members if m not in hidden and self.values[m] > 0]
        if open_members:
            return min(open_members, key=lambda c: _sort_key(c, self.values))
        if allow_total and line.total not in hidden and self.values[line.total] > 0:
            return line.total
        return None

    def leaks(self, i: int, hidden: set[C], primary: set[C], span: int) -> bool:
        """True when line i alone solves or narrows a hidden cell."""
        line = self.lines[i]
        hidden_members = [m for m in line.members if m in hidden]
        unknowns = len(hidden_members) + (line.total in hidden)
        if unknowns == 0:
            return False
        if unknowns == 1:
            return True
        if line.total in hidden or not any(m in primary for m in hidden_members):
            return False
        remainder = self.values[line.total] - sum(
            self.values[m] for m in line.members if m not in hidden)
        # each hidden member lies in [1, remainder - (k - 1)]
        return remainder - len(hidden_members) < span


def _line_fixpoint(
    idx: _Lines[C], hidden: set[C], primary: set[C], span: int
) -> None:
    work = sorted({i for c in hidden for i in idx.of.get(c, ())})
    queued = set(work)
    while work:
        i = work.pop()
        queued.discard(i)
        if not idx.leaks(i, hidden, primary, span):
            continue
        cell = idx.candidate(i, hidden)
        if cell is None:
            continue
        hidden.add(cell)
        for j in idx.of.get(cell, ()):
            if j not in queued:
                queued.add(j)
                work.append(j)


def _components(idx: _Lines[C], hidden: set[C]) -> list[list[C]]:
    parent: dict[C, C] = {c: c for c in hidden}

    def find(c: C) -> C:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for line in idx.lines:
        cells = [c for c in (line.total, *line.members) if c in hidden]
        for other in cells[1:]:
            a, b = find(cells[0]), find(other)
            if a != b:
                parent[a] = b
    groups: dict[C, list[C]] = {}
    for c in sorted(hidden, key=repr):
        groups.setdefault(find(c), []).append(c)
    return list(groups.values())


class _Current(Generic[C]):
    """The programme of a cell's group as the hidden set stands now, rebuilt only when
    the set has grown (it never shrinks, so its size is its version)."""

    def __init__(self, idx: _Lines[C], hidden: set[C]) -> None:
        self._idx = idx
        self._hidden = hidden
        self._version = -1
        self._group_of: dict[C, int] = {}
        self._groups: list[list[C]] = []
        self._programmes: dict[int, _Programme[C]] = {}

    def programme(self, cell: C) -> _Programme[C]:
        if self._version != len(self._hidden):
            self._groups = _components(self._idx, self._hidden)
            self._group_of = {c: k for k, g in enumerate(self._groups) for c in g}
            self._programmes = {}
            self._version = len(self._hidden)
        k = self._group_of[cell]
        if k not in self._programmes:
            self._programmes[k] = _Programme(self._idx, self._groups[k], self._hidden)
        return self._programmes[k]


class _Programme(Generic[C]):
    """The linear programme of one group of hidden cells: lines as equalities, hidden >= 1."""

    def __init__(self, idx: _Lines[C], cells: list[C], hidden: set[C]) -> None:
        self.col = {c: j for j, c in enumerate(cells)}
        touched = sorted({i for c in cells for i in idx.of.get(c, ())})
        rows: list[int] = []
        cols: list[int] = []
        data: list[float] = []
        self.b_eq = np.zeros(len(touched))
        for r, i in enumerate(touched):
            line = idx.lines[i]
            for sign, cell in ((1.0, line.total), *((-1.0, m) for m in line.members)):
                # a hidden cell outside `cells` (hidden since the groups were formed) is
                # pinned to its value: that only narrows ranges, so proofs stay sound
                if cell in hidden and cell in self.col:
                    rows.append(r)
                    cols.append(self.col[cell])
                    data.append(sign)
                else:
                    self.b_eq[r] -= sign * idx.values[cell]
        self.a_eq = csr_array((data, (rows, cols)), shape=(len(touched), len(cells)))

    def extreme(self, cell: C, sign: float) -> float:
        """The least (sign 1) or greatest (sign -1) value `cell` can take."""
        c = np.zeros(len(self.col))
        c[self.col[cell]] = sign
        res = linprog(c, A_eq=self.a_eq, b_eq=self.b_eq, bounds=(1.0, None), method="highs")
        if res.status == 3:  # unbounded
            return -sign * math.inf
        if res.status != 0:
            raise RuntimeError(f"suppression audit LP failed: {res.message}")
        return sign * float(res.fun)

    def push_together(self, cells: Sequence[C], cap: float, sign: float
                      ) -> dict[C, float] | None:
        """One feasible table with the `cells` as large (sign -1) or small (sign 1) as
        possible together (each in [1, cap]), as {cell: value}; None if none is found."""
        c = np.zeros(len(self.col))
        for cell in cells:
            c[self.col[cell]] = sign
        res = linprog(c, A_eq=self.a_eq, b_eq=self.b_eq, bounds=(1.0, cap), method="highs")
        if res.status != 0:
            return None
        return {cell: float(res.x[self.col[cell]]) for cell in cells}

    def range(self, cell: C) -> tuple[float, float]:
        return (self.extreme(cell, 1.0), self.extreme(cell, -1.0))


def feasible_ranges(
    values: Mapping[C, int], lines: Sequence[Line[C]], hidden: Iterable[C],
    of: Iterable[C] | None = None,
) -> dict[C, tuple[float, float]]:
    """For each hidden cell (or each of `of`), the least and greatest value it can take
    given the published cells, the lines, and hidden >= 1 (a linear relaxation: exact for
    row/column tables)."""
    idx = _Lines(values, lines)
    hid = set(hidden)
    wanted = hid if of is None else set(of) & hid
    out: dict[C, tuple[float, float]] = {}
    for comp in _components(idx, hid):
        asked = [c for c in comp if c in wanted]
        if asked:
            lp = _Programme(idx, comp, hid)
            out.update({c: lp.range(c) for c in asked})
    return out


def _span(lo: float, hi: float) -> float:
    return math.inf if math.isinf(hi) else math.floor(hi + 1e-6) - math.ceil(lo - 1e-6)


def _witnessed(lp: _Programme[C], targets: Sequence[C], values: Mapping[C, int], span: int,
               cap: float) -> set[C]:
    """Small cells proven protected by a few shared solutions: a feasible table where a cell
    is `span` above (or below) its true value proves its range wide, since the true value is
    feasible too. Each solution pushes every cell not yet proven, together."""
    proven: set[C] = set()
    for sign in (-1.0, 1.0):
        remaining = [c for c in targets if c not in proven
                     and (sign < 0 or values[c] - span >= 1)]
        while remaining:
            point = lp.push_together(remaining, cap, sign)
            if point is None:
                break
            newly = {c for c in remaining if abs(point[c] - values[c]) >= span - 1e-6}
            if not newly:
                break
            proven |= newly
            remaining = [c for c in remaining if c not in newly]
    return proven


def _protected(lp: _Programme[C], cell: C, value: int, span: int) -> bool:
    """True when `cell`'s feasible range spans at least `span` (one LP when it clearly does:
    the true value is feasible, so the least value is at most it)."""
    hi = lp.extreme(cell, -1.0)
    if _span(value, hi) >= span:
        return True
    if _span(1.0, hi) < span:
        return False
    return _span(lp.extreme(cell, 1.0), hi) >= span


def _hide_one_more(idx: _Lines[C], hidden: set[C], cell: C, comp: list[C]) -> C | None:
    """Hide one more cell next to `cell` and return it: a member of one of its own lines
    (the line with the fewest hidden cells first), else of any line of its group, else a
    total. None when nothing is left to hide."""
    own = sorted(idx.of.get(cell, ()), key=lambda i: (
        sum(c in hidden for c in (idx.lines[i].total, *idx.lines[i].members)), i))
    rest = sorted({i for c in comp for i in idx.of.get(c, ())} - set(own))
    for allow_total in (False, True):
        for i in (*own, *rest):
            extra = idx.candidate(i, hidden, allow_total=allow_total)
            if extra is not None:
                hidden.add(extra)
                return extra
    return None


def suppress(
    values: Mapping[C, int],
    lines: Sequence[Line[C]],
    min_cell: int,
    *,
    audit_limit: int = 400,
    witness_limit: int = 20_000,
) -> Suppression[C]:
    """Choose the cells to hide so no count from 1 to min_cell-1 can be read or solved for.

    `values` holds every cell that will be published (counts >= 0), `lines` every additive
    relation between them a reader could use. Deterministic for the same input.
    """
    if min_cell < 1:
        raise ValueError(f"min_cell must be >= 1, got {min_cell}")
    negative = [c for c, v in values.items() if v < 0]
    if negative:
        raise ValueError(f"counts must be >= 0, got {values[negative[0]]} for {negative[0]!r}")
    idx = _Lines(values, lines)
    primary = {c for c, v in values.items() if 0 < v < min_cell}
    hidden = set(primary)
    span = protection_span(min_cell)
    cap = 2.0 * max(values.values(), default=0) + span + 1
    # Hiding more only widens every range, so a cell once protected stays protected.
    protected: set[C] = set()
    current = _Current(idx, hidden)
    while True:
        _line_fixpoint(idx, hidden, primary, span)
        unaudited = 0
        touched: set[int] = set()
        stuck: list[C] = []
        for comp in _components(idx, hidden):
            targets = sorted((c for c in comp if c in primary and c not in protected),
                             key=lambda c: (values[c], repr(c)))
            if not targets:
                continue
            if len(comp) > witness_limit:
                unaudited += len(comp)
                continue
            lp = _Programme(idx, comp, hidden)
            protected.update(_witnessed(lp, targets, values, span, cap))
            exhausted = -1  # len(hidden) when the group last had nothing left to hide
            for cell in targets:
                if cell in protected:
                    continue
                # exact range for groups small enough, else hide more without asking
                if len(comp) <= audit_limit and _protected(lp, cell, values[cell], span):
                    protected.add(cell)
                    continue
                if touched.intersection(idx.of.get(cell, ())):
                    continue  # a repair next to it this round: check again next round
                # every cell of a group sees the same lines: once nothing is left to hide,
                # nothing is until the hidden set grows
                extra = None if exhausted == len(hidden) else _hide_one_more(
                    idx, hidden, cell, comp)
                if extra is None:
                    exhausted = len(hidden)
                    stuck.append(cell)  # nothing left to hide in the group as it stood
                    continue
                touched.update(idx.of.get(cell, ()), idx.of.get(extra, ()))
        # decide those on their groups as they stand now, whatever their size (`lp` may
        # predate this round's repairs, which pinned their cells at their values)
        by_group: dict[int, tuple[_Programme[C], list[C]]] = {}
        for cell in stuck:
            now = current.programme(cell)
            by_group.setdefault(id(now), (now, []))[1].append(cell)
        for now, cells in by_group.values():
            protected.update(_witnessed(now, cells, values, span, cap))
            for cell in cells:
                if cell in protected or touched.intersection(idx.of.get(cell, ())):
                    continue
                if _protected(now, cell, values[cell], span):
                    protected.add(cell)
                    continue
                extra = _hide_one_more(idx, hidden, cell, list(now.col))
                if extra is None:
                    # every non-zero cell of the group is hidden: its lines are then
                    # homogeneous, so any feasible table scaled up is feasible and no
                    # range is bounded; reaching here would be a bug in the audit
                    raise AssertionError("suppression audit: an all-hidden group failed")
                touched.update(idx.of.get(cell, ()), idx.of.get(extra, ()))
        if not touched:
            break
    return Suppression(frozenset(primary), frozenset(hidden - primary), unaudited)
