"""Round-over-round measures: screens read against a prior, what changed, and how the
category moved from the prior screen. Counts of studies (never of nodules), listed only where
some study of the campaign had a prior, so a first round's report is as it always was.

    with_prior                    screened studies read against the person's prior screen
    with_new_nodule               ... with at least one nodule new since the prior
    with_growing_nodule           ... with at least one nodule grown (kernel.followup)
    shift.<up|same|down>          ... whose category rose, stayed or fell from the prior's
    transition.<prior>.<current>  ... by (prior category, current category)

with, per group: with_prior = sum of shifts = sum of transitions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from kernel.followup import Change
from kernel.lungrads import Category
from kernel.records import Outcome, StudyResult

__all__ = ["SHIFTS", "WITH_PRIOR", "count_round", "round_measures", "transition_measure"]

WITH_PRIOR = "with_prior"
WITH_NEW, WITH_GROWING = "with_new_nodule", "with_growing_nodule"
SHIFTS = ("shift.up", "shift.same", "shift.down")
_TRANSITION = "transition."


def transition_measure(prior: Category, current: Category) -> str:
    return f"{_TRANSITION}{prior.value}.{current.value}"


def count_round(result: StudyResult, counts: Counter[str]) -> None:
    """Add `result`'s round measures to `counts` (nothing for a study without a prior)."""
    reading = result.reading
    if (result.outcome is not Outcome.SCREENED or result.category is None or reading is None
            or reading.prior_study_pid is None or reading.prior_category is None):
        return
    counts[WITH_PRIOR] += 1
    changes = {n.change for n in reading.nodules}
    counts[WITH_NEW] += Change.NEW in changes
    counts[WITH_GROWING] += Change.GROWN in changes
    prior, now = reading.prior_category.rank, result.category.rank
    counts[SHIFTS[0] if now > prior else SHIFTS[2] if now < prior else SHIFTS[1]] += 1
    counts[transition_measure(reading.prior_category, result.category)] += 1


def round_measures(groups: Iterable[Mapping[str, int]]) -> tuple[str, ...]:
    """The round measures to list: none unless some group had a study with a prior; then
    every shift and the transitions that occurred, in category order."""
    seen: set[str] = set()
    any_prior = False
    for g in groups:
        any_prior = any_prior or bool(g.get(WITH_PRIOR))
        seen.update(m for m, v in g.items() if m.startswith(_TRANSITION) and v)
    if not any_prior:
        return ()
    order = [c for c in Category]
    transitions = [transition_measure(p, c) for p in order for c in order
                   if transition_measure(p, c) in seen]
    return (WITH_PRIOR, WITH_NEW, WITH_GROWING, *SHIFTS, *transitions)
