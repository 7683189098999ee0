"""The report counts technical recall by next step, with its rate and interval per group."""

from __future__ import annotations

import csv
import io
import json

import pytest

from jobs.report.aggregate import aggregate, wilson_interval
from jobs.report.build import build_report
from jobs.report.cube import build_cube
from jobs.report.formats import render
from kernel.lungrads import Category
from kernel.reasons import Reason
from kernel.records import Outcome, StudyResult
from tests.report_results import cohort, opted_out, quarantined, screened, solid


def _incomplete(region: str, i: int) -> StudyResult:
    return StudyResult(f"study-{region}-z{i}", f"pat-{region}-z{i}", region, "s1", "60-64", "F",
                       Outcome.SCREENED, "m", "1", category=Category.INCOMPLETE)


def _region(region: str, screens: int, gaps: int, decode: int, not_ct: int, zero: int
            ) -> list[StudyResult]:
    out = [screened(region, "s1", (solid(3.0),), i=i) for i in range(screens)]
    out += [quarantined(region, "s1", Reason.SLICE_GAP, i=i) for i in range(gaps)]
    out += [quarantined(region, "s1", Reason.DECODE_FAILED, i=100 + i) for i in range(decode)]
    out += [quarantined(region, "s1", Reason.NOT_CT, i=200 + i) for i in range(not_ct)]
    out += [_incomplete(region, i) for i in range(zero)]
    return out + [opted_out(region, "s1", i=i) for i in range(3)]


@pytest.fixture(scope="module")
def results():
    return _region("north", 60, 4, 2, 5, 1) + _region("south", 30, 0, 3, 0, 0)


def test_counts_by_next_step_and_the_rate_per_region(results):
    report = build_report("c", aggregate(results), min_cell=1)
    north, south = report.rows_at(("region",))
    assert (north.counts["technical_recall"], north.counts["technical_recall.repeat_scan"],
            north.counts["technical_recall.manual_read"]) == (7, 5, 2)  # not_ct: neither
    assert south.counts["technical_recall"] == 3
    examined = 60 + 4 + 2 + 5 + 1  # screened (category 0 included) + quarantined
    rate = north.technical_recall_rate
    assert rate.value == pytest.approx(7 / examined)
    assert (rate.low, rate.high) == wilson_interval(7, examined)
    total = report.rows_at(())[0]
    assert total.technical_recall_rate.value == pytest.approx(10 / (examined + 33))

    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert rows[1]["technical_recall.repeat_scan"] == "5"
    assert float(rows[1]["technical_recall_rate_pct"]) == pytest.approx(100 * 7 / examined,
                                                                        abs=0.05)
    assert rows[1]["technical_recall_rate_ci95_low_pct"]
    doc = json.loads(render(report, "json"))
    assert doc["schema_version"] == "3"
    assert doc["groups"][1]["technical_recall_rate"]["ci95_high"] == pytest.approx(rate.high)
    assert "technical recall" in render(report, "html")
    assert "tech %" in render(report, "table")


def test_the_technical_lines_hold_in_the_cube():
    results = cohort(700, seed=7) + [_incomplete("region-0", i) for i in range(3)]
    cube = build_cube(aggregate(results, by=("region", "site")))
    values = cube.values
    tech = [line for line in cube.lines if line.total[2].startswith("technical_recall")
            and line.members and line.total[0] == line.members[0][0]]
    assert len(tech) == 3 * sum(len(g) for g in cube.groups.values())
    for line in cube.lines:
        assert values[line.total] == sum(values[m] for m in line.members), line


def test_a_small_technical_count_is_suppressed_with_its_rate(results):
    report = build_report("c", aggregate(results), min_cell=11)
    south = report.rows_at(("region",))[1]
    assert south.counts["technical_recall"] is None
    assert south.technical_recall_rate.value is None
