"""AI-reader agreement in the authority's report (jobs.report.agreement): linearly weighted
kappa against a hand-computed example, the sampled negatives' miss rate, and both kept
within the report's small-cell rule."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from jobs.report import campaign_report, render
from jobs.report.agreement import reading_agreement, weighted_kappa
from jobs.review import decide, draw_worklist
from jobs.store import ResultsStore
from kernel.lungrads import Category
from kernel.worklist import Action, ReaderDecision, ReadingTask, TaskReason
from tests.review_helpers import fill, study
from tests.store_helpers import audit_key

C1, C2, C3 = Category.NEGATIVE, Category.BENIGN, Category.PROBABLY_BENIGN


def test_kappa_is_linearly_weighted_as_computed_by_hand():
    # (AI, reader): two disagreements one step apart among six; each rater uses 1, 2 and 3
    # twice. Weights |i - j| / 5 over 1, 2, 3, 4A, 4B, 4X: observed 2 * 1/5 = 0.4;
    # expected (1 / (5 * 6)) * 4 * (sum of |i - j| over 3 x 3 = 8) = 32/30; kappa =
    # 1 - 0.4 / (32/30) = 0.625 (unweighted it would be 0.5)
    pairs = [(C1, C1), (C1, C1), (C2, C2), (C2, C3), (C3, C3), (C3, C2)]
    assert weighted_kappa(pairs) == pytest.approx(0.625)
    assert weighted_kappa([(C1, C1), (C3, C3)]) == pytest.approx(1.0)
    assert weighted_kappa([(C1, C3), (C3, C1)]) == pytest.approx(-1.0)
    assert weighted_kappa([(C2, C2)] * 5) is None  # one category only: undefined
    assert weighted_kappa([]) is None


def _decided(n: int, reason: TaskReason, ai: Category, reader: Category, start: int
             ) -> tuple[list[ReadingTask], dict[str, ReaderDecision]]:
    tasks = [ReadingTask(f"s{start + i}", "1", ai, reason) for i in range(n)]
    at = datetime(2027, 1, 1, tzinfo=UTC)
    return tasks, {t.study_pid: ReaderDecision(start + i, t.study_pid, Action.CHANGE, reader,
                                               "r", at) for i, t in enumerate(tasks)}


def test_miss_rate_and_small_counts():
    tasks, confirmed = _decided(20, TaskReason.SAMPLED, C1, C1, 0)
    more, also = _decided(12, TaskReason.SAMPLED, C2, C3, 100)  # misses
    threshold, agreed = _decided(11, TaskReason.THRESHOLD, C3, C3, 200)
    ungraded, read = _decided(2, TaskReason.INCOMPLETE, Category.INCOMPLETE, C2, 300)
    pending = [ReadingTask("s999", "1", C3, TaskReason.THRESHOLD)]
    everything = tasks + more + threshold + ungraded + pending
    decisions = confirmed | also | agreed | read
    exact = reading_agreement(everything, decisions, min_cell=1)
    assert (exact.tasks, exact.decided, exact.ungraded, exact.kappa_n) == (46, 45, 2, 43)
    assert (exact.sampled_decided, exact.sampled_missed) == (32, 12)
    assert exact.miss_rate == pytest.approx(12 / 32)
    assert exact.miss_ci95 is not None and exact.miss_ci95[0] < 12 / 32 < exact.miss_ci95[1]
    shown = reading_agreement(everything, decisions, min_cell=11)
    assert shown.miss_rate == exact.miss_rate and shown.kappa == exact.kappa
    assert shown.ungraded is None  # 2 < 11
    hidden = reading_agreement(everything, decisions, min_cell=13)
    assert hidden.sampled_missed is None and hidden.miss_rate is None
    few = reading_agreement(threshold[:5], agreed, min_cell=11)
    assert few.kappa is None and few.kappa_n is None and few.tasks is None


CAMPAIGN = "review-report"


def test_the_campaign_report_carries_the_figures_under_its_threshold(tmp_path):
    url = f"sqlite:///{tmp_path / 'results.db'}"
    results = [study(i, C3 if i < 30 else C1) for i in range(60)]
    fill(url, CAMPAIGN, results)
    with ResultsStore.open(url, audit_key=audit_key()) as store:
        assert campaign_report(store, CAMPAIGN).reading is None  # no worklist yet
        draw_worklist(store, CAMPAIGN, fraction=0.0, seed=1)
        for r in results[:12]:
            decide(store, CAMPAIGN, r.study_pid, Action.CONFIRM, reader="r")
        for r in results[12:16]:
            decide(store, CAMPAIGN, r.study_pid, Action.CHANGE, reader="r", category=C2)
        report = campaign_report(store, CAMPAIGN, min_cell=11)
        small = campaign_report(store, CAMPAIGN, min_cell=20)
    assert report.reading is not None and report.reading.kappa_n == 16
    doc = json.loads(render(report, "json"))["reading"]
    assert doc["tasks"] == 30 and doc["decided"] == 16
    assert doc["kappa"]["weights"] == "linear" and doc["kappa"]["n"] == 16
    assert doc["sampled_negatives"]["decided"] == 0 and doc["sampled_negatives"]["miss_rate"] \
        is None
    assert "reading tasks 30, decided 16; kappa (linear) 0.00 over 16 tasks" in render(
        report, "table")
    page = render(report, "html")
    assert "Reading worklist" in page and "kappa (linear) 0.00 over 16 tasks" in page
    assert "Reading worklist" not in render(replace(report, reading=None), "html")
    hidden = json.loads(render(small, "json"))["reading"]
    assert hidden["decided"] is None and hidden["kappa"]["value"] is None
    assert "kappa not shown (fewer than 20 tasks)" in render(small, "table")
