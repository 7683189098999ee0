"""How readers agreed with the AI on the reading worklist (kernel.worklist): Cohen's kappa,
linearly weighted over the ordinal Lung-RADS categories 1 < 2 < 3 < 4A < 4B < 4X, over the
decided tasks; and the sampled negatives' miss rate: sampled AI negatives a reader put at
3 or above, over the sampled negatives decided.

Linear weights, because the categories are ordered and a 2 read as 3 is a smaller
disagreement than a 2 read as 4B. Category 0 (incomplete: no grade) is on no such scale, so
a task whose AI or reader category is 0 is left out of kappa (and counted as `ungraded`).

In the report (the authority's exact tables) these follow its small-cell rule: a count
between 1 and min_cell - 1 is hidden; kappa is shown only over at least min_cell tasks,
and the miss rate only when both of its counts are shown. `lungscreen review ID`, which
lists every task anyway, shows them exactly (`min_cell=1`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from jobs.report.aggregate import wilson_interval
from kernel.lungrads import Category
from kernel.worklist import ReaderDecision, ReadingTask, TaskReason

__all__ = ["GRADED", "ReadingAgreement", "agreement_text", "reading_agreement",
           "weighted_kappa"]

GRADED: tuple[Category, ...] = tuple(c for c in Category if c is not Category.INCOMPLETE)
"""The ordinal scale kappa is weighted over."""


@dataclass(frozen=True)
class ReadingAgreement:
    """The worklist's figures; a hidden count or a figure that cannot be shown is None."""

    min_cell: int
    tasks: int | None
    decided: int | None
    kappa: float | None  # linearly weighted, over `kappa_n` tasks
    kappa_n: int | None
    ungraded: int | None  # decided tasks left out of kappa (AI or reader category 0)
    sampled_decided: int | None
    sampled_missed: int | None  # of those, read at 3 or above
    miss_rate: float | None
    miss_ci95: tuple[float, float] | None


def weighted_kappa(pairs: Sequence[tuple[Category, Category]]) -> float | None:
    """Cohen's kappa of (AI, reader) category pairs over `GRADED`, linear weights
    |i - j| / (k - 1); None when it is undefined (no pairs, or both raters always used one
    and the same category)."""
    k = len(GRADED)
    index: dict[Category, int] = {c: i for i, c in enumerate(GRADED)}
    n = len(pairs)
    if n == 0:
        return None
    rows, cols = [0] * k, [0] * k
    observed = 0.0
    for a, b in pairs:
        i, j = index[a], index[b]
        rows[i] += 1
        cols[j] += 1
        observed += abs(i - j) / (k - 1)
    expected = sum(rows[i] * cols[j] * abs(i - j) / (k - 1)
                   for i in range(k) for j in range(k)) / n
    if expected == 0:
        return None
    return 1.0 - observed / expected


def _shown(count: int, min_cell: int) -> int | None:
    return None if 0 < count < min_cell else count


def reading_agreement(tasks: Iterable[ReadingTask], confirmed: Mapping[str, ReaderDecision],
                      *, min_cell: int) -> ReadingAgreement:
    """The figures of `tasks` with their confirmed decisions (jobs.store's `confirmed`),
    small counts hidden under `min_cell` (1: nothing hidden)."""
    pairs: list[tuple[Category, Category]] = []
    total = decided = ungraded = sampled = missed = 0
    for task in tasks:
        total += 1
        decision = confirmed.get(task.study_pid)
        if decision is None:
            continue
        decided += 1
        if Category.INCOMPLETE in (task.ai_category, decision.category):
            ungraded += 1
        else:
            pairs.append((task.ai_category, decision.category))
        if task.reason is TaskReason.SAMPLED:
            sampled += 1
            missed += decision.category.rank >= Category.PROBABLY_BENIGN.rank
    kappa_n = len(pairs)
    kappa = weighted_kappa(pairs) if kappa_n >= min_cell else None
    shown_sampled, shown_missed = _shown(sampled, min_cell), _shown(missed, min_cell)
    rate = ci = None
    if shown_sampled and shown_missed is not None:
        rate, ci = missed / sampled, wilson_interval(missed, sampled)
    return ReadingAgreement(min_cell, _shown(total, min_cell), _shown(decided, min_cell),
                            kappa, _shown(kappa_n, min_cell), _shown(ungraded, min_cell),
                            shown_sampled, shown_missed, rate, ci)


def agreement_text(a: ReadingAgreement) -> str:
    """The worklist's figures as one line for a terminal (the report's table, `review`)."""
    small = f"fewer than {a.min_cell} tasks"
    kappa = (f"kappa (linear) {a.kappa:.2f} over {a.kappa_n} tasks" if a.kappa is not None
             else "kappa not shown (" + (small if a.kappa_n is None else "no graded decision"
                                         if a.kappa_n == 0 else "undefined: one category") + ")")
    if a.miss_rate is not None and a.miss_ci95 is not None:
        missed = (f"sampled negatives read >= 3: {a.sampled_missed} of {a.sampled_decided} "
                  f"({_percent(a.miss_rate)}%, 95% CI {_percent(a.miss_ci95[0])}-"
                  f"{_percent(a.miss_ci95[1])})")
    else:
        missed = "sampled negatives' miss rate not shown (" + (
            "none decided" if a.sampled_decided == 0 else f"a count under {a.min_cell}") + ")"
    return f"reading tasks {_count(a.tasks)}, decided {_count(a.decided)}; {kappa}; {missed}"


def _count(v: int | None) -> str:
    return "suppressed" if v is None else str(v)


def _percent(v: float) -> str:
    return f"{100 * v:.1f}"
