"""The HTML report reads as a page for people: round axis ticks, a headline that says what
the threshold hides (nothing at 1), readable column names, charts at the table's own
grouping, quarantine apart from the Lung-RADS colours, and a notice when nothing can be shown
yet."""

from __future__ import annotations

import re

import pytest

from jobs.report.aggregate import aggregate
from jobs.report.build import build_report
from jobs.report.formats import render
from jobs.report.html import CATEGORY_COLOURS, PROGRESS, suppression_sentence
from jobs.report.svg import axis_ticks
from tests.report_results import cohort, screened, solid


@pytest.mark.parametrize(("top", "ticks"), [
    (0.95, [0, 20, 40, 60, 80, 100]), (0.17, [0, 5, 10, 15, 20]), (0.5, [0, 10, 20, 30, 40, 50]),
    (0.031, [0, 1, 2, 3, 4]), (0.07, [0, 2, 4, 6, 8]), (1.0, [0, 20, 40, 60, 80, 100])])
def test_rate_axes_tick_at_round_percentages(top, ticks):
    step, count = axis_ticks(top)
    assert [round(100 * step * k, 6) for k in range(count + 1)] == ticks
    assert step * count >= min(top, 1.0)


def test_the_drawn_axis_has_no_odd_ticks():
    report = build_report("r", aggregate(cohort(600, seed=4)), min_cell=11)
    labels = re.findall(r'font-size="11">([0-9.]+)%</text>', render(report, "html"))
    assert labels and all(float(x) % 1 == 0 or float(x) * 2 % 5 == 0 for x in labels), labels


@pytest.mark.parametrize(("min_cell", "words"), [
    (1, "No count is suppressed (threshold 1)."),
    (2, "Counts of 1, and the cells that would let one work them out, are suppressed"),
    (11, "Counts from 1 to 10, and the cells that would let one work them out, are suppressed")])
def test_the_headline_says_what_the_threshold_hides(min_cell, words):
    assert suppression_sentence(min_cell) == words
    html = render(build_report("r", aggregate(cohort(200, seed=2)), min_cell=min_cell), "html")
    assert words in html
    assert "Counts from 1 to 0" not in html and "from 1 to 1," not in html


def test_columns_read_as_words_and_charts_follow_the_grouping():
    by = ("region", "site")
    html = render(build_report("r", aggregate(cohort(900, seed=5), by=by), by=by, min_cell=11),
                  "html")
    heads = re.findall(r"<th>([^<]*)</th>", html)
    assert "opted out" in heads and "4A suspicious" in heads and "slice gap" in heads
    assert not {"opted_out", "4A", "slice_gap", "0"} & set(heads)
    charts = html[:html.index("<table>")]
    assert "Lung-RADS category mix per region, site" in charts
    assert "region-0 / r0-site-0" in charts  # bars per site, not per region


def test_quarantine_has_a_colour_of_its_own():
    quarantine = dict((m, c) for m, _, c in PROGRESS)["quarantined"]
    assert quarantine not in CATEGORY_COLOURS.values()


def test_a_campaign_below_the_threshold_says_so():
    report = build_report("small", aggregate([screened("north", "n1", (solid(9.0),), i=i)
                                              for i in range(4)]), min_cell=11)
    html = render(report, "html")
    assert "Too few results to publish yet" in html and "threshold (11)" in html
    full = render(build_report("big", aggregate(cohort(900, seed=5)), min_cell=11), "html")
    assert "Too few results" not in full


def test_a_later_round_gets_the_transition_chart_with_small_cells_hidden():
    import dataclasses

    from kernel.followup import Change
    from kernel.lungrads import Category
    from kernel.rounds import NoduleReading, RoundReading

    def later(i: int, prior: Category, now: Category, change: Change) -> object:
        base = screened("north", f"n{i % 2}", (solid(7.0),), i=i)
        reading = RoundReading(None, (NoduleReading(change, now),), prior_study_pid=f"p{i}",
                               prior_category=prior)
        return dataclasses.replace(base, category=now, reading=reading)

    results = ([later(i, Category.PROBABLY_BENIGN, Category.BENIGN, Change.STABLE)
                for i in range(60)]
               + [later(100 + i, Category.BENIGN, Category.BENIGN, Change.STABLE)
                  for i in range(15)]
               + [later(200 + i, Category.BENIGN, Category.SUSPICIOUS_4A, Change.GROWN)
                  for i in range(3)]
               + [screened("north", "n0", (solid(5.0),), i=300 + i) for i in range(40)])
    html = render(build_report("r2", aggregate(results), min_cell=11), "html")
    section = html[html.index("Round over round"):]
    assert 'aria-label="Transition chart"' in section
    assert ">60</td>" in section
    # 3 is under the threshold, and 15 is hidden with it (with_prior is published: the sum
    # of a line must not give a hidden cell away)
    assert section.count("tr-hidden") == 2 and ">3</td>" not in section
    assert ">15</td>" not in section
    first = render(build_report("r1", aggregate(results[-40:]), min_cell=11), "html")
    assert "Round over round" not in first
