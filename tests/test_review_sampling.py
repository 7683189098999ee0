"""The reading worklist's rules (kernel.worklist): which screens become tasks, and a
sample of the negatives that is seeded, reproducible and stable as a campaign grows."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kernel.followup import Change
from kernel.lungrads import Category
from kernel.records import Outcome
from kernel.rounds import NoduleReading, RoundReading
from kernel.worklist import (
    TaskReason,
    WorklistPlan,
    category_after_rejecting,
    is_sampled,
    select_tasks,
)
from tests.review_helpers import study
from tests.store_helpers import pid

PIDS = [pid("s", i) for i in range(1000)]


def _sample(seed: int, fraction: float = 0.05, pids: list[str] = PIDS) -> set[str]:
    return {p for p in pids if is_sampled(p, seed, fraction)}


def test_the_sample_is_about_the_fraction_and_the_same_for_the_same_seed():
    first = _sample(7)
    assert 30 <= len(first) <= 70  # 5% of 1,000: 50, sd 6.9
    assert _sample(7) == first
    other = _sample(8)
    assert other != first and 30 <= len(other) <= 70
    assert len(first & other) < 15  # independent draws share about 2.5
    assert 180 <= len(_sample(7, 0.2)) <= 220
    assert first <= _sample(7, 0.2)  # a larger fraction keeps the smaller one's picks
    assert _sample(7, 0.0) == set() and _sample(7, 1.0) == set(PIDS)


def test_a_grown_campaign_keeps_its_earlier_picks():
    negatives = [study(i, Category.NEGATIVE) for i in range(1000)]
    plan = WorklistPlan(Category.PROBABLY_BENIGN, 0.05, 11)
    early = {t.study_pid for t in select_tasks(negatives[:400], plan)}
    later = {t.study_pid for t in select_tasks(reversed(negatives), plan)}
    assert early and early <= later
    assert later == _sample(11)


def test_screens_at_or_above_the_threshold_and_category_0_are_always_tasks():
    categories = [Category.INCOMPLETE, Category.NEGATIVE, Category.BENIGN,
                  Category.PROBABLY_BENIGN, Category.SUSPICIOUS_4A,
                  Category.VERY_SUSPICIOUS_4B, Category.SUSPICIOUS_4X]
    results = [study(i, c) for i, c in enumerate(categories)]
    results.append(study(99, None, outcome=Outcome.QUARANTINED))  # technical recall's
    no_sample = WorklistPlan(Category.PROBABLY_BENIGN, 0.0, 1)
    tasks = {t.ai_category: t.reason for t in select_tasks(results, no_sample)}
    assert tasks == {Category.INCOMPLETE: TaskReason.INCOMPLETE,
                     Category.PROBABLY_BENIGN: TaskReason.THRESHOLD,
                     Category.SUSPICIOUS_4A: TaskReason.THRESHOLD,
                     Category.VERY_SUSPICIOUS_4B: TaskReason.THRESHOLD,
                     Category.SUSPICIOUS_4X: TaskReason.THRESHOLD}
    higher = WorklistPlan(Category.SUSPICIOUS_4A, 0.0, 1)
    assert Category.PROBABLY_BENIGN not in {t.ai_category for t in select_tasks(results, higher)}
    everything = WorklistPlan(Category.PROBABLY_BENIGN, 1.0, 1)
    sampled = {t.ai_category for t in select_tasks(results, everything)
               if t.reason is TaskReason.SAMPLED}
    assert sampled == {Category.NEGATIVE, Category.BENIGN}  # AI negatives only


def test_a_plan_out_of_range_is_refused():
    for bad in ((Category.PROBABLY_BENIGN, 1.5, 1), (Category.INCOMPLETE, 0.05, 1),
                (Category.PROBABLY_BENIGN, 0.05, -1)):
        with pytest.raises(ValueError):
            WorklistPlan(*bad)
    assert WorklistPlan(Category.PROBABLY_BENIGN, 0.05, 7).describe() == (
        "threshold 3, 5% of negatives sampled with seed 7")


def test_rejecting_a_nodule_leaves_the_category_of_the_rest():
    r = study(1, Category.SUSPICIOUS_4A)  # 9 mm solid (4A) and 4 mm solid (2)
    assert category_after_rejecting(r, [1]) is Category.BENIGN
    assert category_after_rejecting(r, [2]) is Category.SUSPICIOUS_4A
    assert category_after_rejecting(r, [1, 2]) is Category.NEGATIVE
    with pytest.raises(ValueError, match="nodule 3"):
        category_after_rejecting(r, [3])
    # read against a prior, a nodule's category is the one it was read at (here: grown, 4B)
    read = (NoduleReading(Change.NEW, Category.SUSPICIOUS_4A),
            NoduleReading(Change.GROWN, Category.VERY_SUSPICIOUS_4B))
    with_prior = replace(r, reading=RoundReading(lung_box=None, nodules=read))
    assert category_after_rejecting(with_prior, [1]) is Category.VERY_SUSPICIOUS_4B
