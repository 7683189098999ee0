"""Aggregation: counts per group, the additive identities, size bins, Wilson intervals."""

from __future__ import annotations

import math

import pytest

from jobs.report.aggregate import (
    CATEGORY_MEASURES,
    SIZE_MEASURES,
    StageTiming,
    aggregate,
    reason_measure,
    size_bin,
    wilson_interval,
)
from kernel.reasons import Reason
from tests.report_results import cohort, opted_out, quarantined, screened, solid


def test_counts_per_region_and_site():
    results = [
        screened("north", "n1", (solid(9.0),), i=1),   # 4A, 8-15
        screened("north", "n1", (), i=2),               # 1, none
        screened("north", "n2", (solid(3.0), solid(6.5)), i=3),  # 3 (largest 6.5), 6-8
        quarantined("north", "n2", Reason.SLICE_GAP, i=4),
        opted_out("south", "s1", i=5),
        quarantined("south", "s1", Reason.NOT_CT, i=6),
    ]
    agg = aggregate(iter(results), by=("region", "site"))
    assert agg.reasons == ("not_ct", "slice_gap")
    n1 = agg.groups[("north", "n1")]
    assert n1["seen"] == 2 and n1["screened"] == 2 and n1["positive"] == 1
    assert n1["category.4A"] == 1 and n1["category.1"] == 1
    assert n1["largest_nodule.8-15"] == 1 and n1["largest_nodule.none"] == 1
    north = agg.rollup(["region"])[("north",)]
    assert north["seen"] == 4 and north["quarantined"] == 1
    assert north[reason_measure("slice_gap")] == 1 and north["category.3"] == 1
    south = agg.rollup(["region"])[("south",)]
    assert south["opted_out"] == 1 and south["screened"] == 0
    assert agg.rollup([])[()]["seen"] == 6


def test_identities_hold_for_every_group():
    agg = aggregate(cohort(500, seed=3), by=("region", "site", "age_band", "sex"))
    reasons = [reason_measure(r) for r in agg.reasons]
    for level in ([], ["region"], ["site", "sex"], ["region", "site", "age_band", "sex"]):
        for counts in agg.rollup(level).values():
            assert counts["seen"] == (
                counts["screened"] + counts["quarantined"] + counts["opted_out"])
            assert counts["quarantined"] == sum(counts[m] for m in reasons)
            assert counts["screened"] == sum(counts[m] for m in CATEGORY_MEASURES)
            assert counts["screened"] == sum(counts[m] for m in SIZE_MEASURES)
            assert counts["positive"] == sum(counts[m] for m in CATEGORY_MEASURES[3:])


@pytest.mark.parametrize(("sizes", "label"), [
    ((), "none"), ((3.94,), "<4"), ((3.96,), "4-6"), ((5.9, 2.0), "4-6"), ((6.0,), "6-8"),
    ((7.95,), "8-15"), ((14.9,), "8-15"), ((15.0,), "15-30"), ((29.9,), "15-30"),
    ((30.0,), ">=30"),
])
def test_size_bin_uses_largest_rounded_diameter(sizes, label):
    assert size_bin(solid(s) for s in sizes) == label


def test_wilson_interval_known_values():
    low, high = wilson_interval(10, 100)
    assert math.isclose(low, 0.0552, abs_tol=5e-4) and math.isclose(high, 0.1744, abs_tol=5e-4)
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(20, 20)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)
    # exactly 0 and 1 at the ends, never float dust like 5.55e-17 in the JSON
    assert all(wilson_interval(0, n)[0] == 0.0 and wilson_interval(n, n)[1] == 1.0
               for n in range(1, 500))
    with pytest.raises(ValueError, match="k=5, n=3"):
        wilson_interval(5, 3)


def test_timings_and_unknown_dimension():
    results = [screened("north", "n1", i=i, timings={"load": 1.0, "infer": 3.0}) for i in range(4)]
    results.append(screened("north", "n1", i=9))  # untimed
    agg = aggregate(results, by=["region"])
    timing = agg.rollup_timings([])[()]
    assert timing.studies == 4 and timing.mean("infer") == 3.0
    assert timing.studies_per_worker_second == pytest.approx(0.25)
    assert StageTiming().mean("load") is None
    with pytest.raises(ValueError, match="postcode"):
        aggregate(results, by=["region", "postcode"])
    with pytest.raises(ValueError, match="not in by"):
        agg.rollup(["site"])


def test_one_grouping_check_serves_every_caller():
    from jobs.report.aggregate import GroupingProblem, grouping_problem

    assert grouping_problem(("region", "sex")) is None
    assert grouping_problem(()) == GroupingProblem("empty")
    assert grouping_problem(("region", "county", "x")) == GroupingProblem("unknown", "county")
    assert grouping_problem(("sex", "region", "sex")) == GroupingProblem("repeated", "sex")


def test_category_0_awaiting_a_prior_is_a_manual_read_and_every_line_still_adds_up():
    import dataclasses

    from jobs.report.cube import build_cube
    from kernel.lungrads import Category
    from kernel.next_steps import NextStep, technical_recall

    waiting = dataclasses.replace(screened("north", "n1", i=1), category=Category.INCOMPLETE,
                                  reason=Reason.PRIOR_NOT_FOUND)
    uncovered = dataclasses.replace(screened("north", "n1", i=2), category=Category.INCOMPLETE)
    results = [waiting, uncovered, screened("north", "n2", (solid(7.0),), i=3),
               quarantined("north", "n2", Reason.SLICE_GAP, i=4)]
    assert technical_recall(waiting) == ("prior_not_found", NextStep.MANUAL_READ)
    agg = aggregate(iter(results), by=("region", "site"))
    assert "awaiting_prior" in agg.measures and "lungs_not_covered" in agg.measures
    total = agg.rollup([])[()]
    assert total["technical_recall.manual_read"] == 1
    assert total["technical_recall.repeat_scan"] == 2  # slice gap and lungs not covered
    values = build_cube(agg).values
    for line in build_cube(agg).lines:
        assert values[line.total] == sum(values[m] for m in line.members), line
    assert "awaiting_prior" not in aggregate(iter(results[1:])).measures


def test_round_measures_count_studies_with_a_prior_and_their_category_moves():
    import dataclasses

    from jobs.report.cube import build_cube
    from kernel.followup import Change
    from kernel.lungrads import Category
    from kernel.rounds import NoduleReading, RoundReading

    def read(prior: Category, *changes: Change) -> RoundReading:
        return RoundReading(None, tuple(NoduleReading(c, Category.BENIGN) for c in changes),
                            prior_study_pid="s-prior", prior_category=prior)

    stable = dataclasses.replace(screened("north", "n1", (solid(7.0),), i=1),
                                 category=Category.BENIGN,
                                 reading=read(Category.PROBABLY_BENIGN, Change.STABLE))
    grown = dataclasses.replace(screened("north", "n1", (solid(6.0),), i=2),
                                category=Category.SUSPICIOUS_4A,
                                reading=read(Category.BENIGN, Change.GROWN, Change.NEW))
    same = dataclasses.replace(screened("north", "n2", (), i=3), category=Category.NEGATIVE,
                               reading=read(Category.NEGATIVE))
    baseline = screened("north", "n2", (solid(3.0),), i=4)
    agg = aggregate(iter([stable, grown, same, baseline]), by=("region", "site"))
    total = agg.rollup([])[()]
    assert total["with_prior"] == 3 and total["with_new_nodule"] == 1
    assert total["with_growing_nodule"] == 1
    assert (total["shift.up"], total["shift.same"], total["shift.down"]) == (1, 1, 1)
    assert total["transition.3.2"] == 1 and total["transition.2.4A"] == 1
    assert "transition.1.1" in agg.measures and "transition.4B.4B" not in agg.measures
    values = build_cube(agg).values
    for line in build_cube(agg).lines:
        assert values[line.total] == sum(values[m] for m in line.members), line
    assert "with_prior" not in aggregate(iter([baseline])).measures  # a first round as before
