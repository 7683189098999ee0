"""Reports: every format shows published numbers only; HTML is self-contained with plots."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cli.main import main
from jobs.report.aggregate import aggregate
from jobs.report.build import SUPPRESSED, build_report
from jobs.report.cube import build_cube
from jobs.report.formats import render
from jobs.report.html import CATEGORY_NAMES
from jobs.store import ResultsStore
from tests.report_results import cohort, screened, solid

BY = ("region", "site")


@pytest.fixture(scope="module")
def results():
    return cohort(700, seed=7)


@pytest.fixture(scope="module")
def report(results):
    agg = aggregate(results, by=BY)
    return build_report("north-2027q1", agg, by=BY, min_cell=11,
                        pending={"region-0": 30, "region-1": 0, "region-2": 4})


def _published(report):
    return {(r.level, r.key, m): v for r in report.rows for m, v in r.counts.items()
            if m != "pending"}


def test_hidden_cells_are_small_or_complementary_and_published_ones_exact(results, report):
    agg = aggregate(results, by=BY)
    cube = build_cube(agg, BY)
    truth = cube.values
    hidden = 0
    for cell, shown in _published(report).items():
        if cell[2] == "pending":
            continue
        if shown is None:
            hidden += 1
        else:
            assert shown == truth[cell]
            assert not 0 < shown < 11, cell
    assert hidden > 0
    # no published line has exactly one hidden cell
    published = _published(report)
    for line in cube.lines:
        cells = (line.total, *line.members)
        if all(c in published for c in cells):
            assert sum(published[c] is None for c in cells) != 1, line


def test_pending_follows_seen(report):
    total = report.rows_at(())[0]
    assert total.counts["pending"] == 34
    for row in report.rows_at(("region",)):
        if row.counts["seen"] is None:
            assert row.counts["pending"] is None
        else:
            want = {"region-0": 30, "region-1": 0, "region-2": 4}[row.key[0]]
            assert row.counts["pending"] == want
    assert all("pending" not in r.counts for r in report.rows_at(BY))


def test_rates_hidden_with_their_counts(report):
    for row in report.rows:
        k, n = row.counts["positive"], row.counts["screened"]
        if k is None or n is None:
            assert row.positive_rate.value is None and row.positive_rate.low is None
        elif n:
            assert row.positive_rate.value == pytest.approx(k / n)
            assert row.positive_rate.low <= k / n <= row.positive_rate.high


def test_json_and_csv(report):
    doc = json.loads(render(report, "json"))
    assert doc["campaign"] == "north-2027q1" and doc["min_cell"] == 11
    total = doc["groups"][0]
    assert total["level"] == [] and total["counts"]["seen"] == 700
    for g, row in zip(doc["groups"], report.rows, strict=True):
        assert g["counts"] == dict(row.counts)
        assert sorted(g["suppressed"]) == sorted(m for m, v in row.counts.items() if v is None)
    assert doc["schema_version"] == "3" and doc["generated_at"].endswith("+00:00")
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert len(rows) == len(report.rows)
    for line, row in zip(rows, report.rows, strict=True):
        assert line["level"] == ("+".join(row.level) or "all")
        for m, v in row.counts.items():
            assert line[m] == ("" if v is None else str(v))
            if line[m] and m != "pending":
                assert not 0 < int(line[m]) < 11
        listed = line["suppressed"].split(";") if line["suppressed"] else []
        assert listed == [m for m in report.measures if m in row.counts and row.counts[m] is None]


def test_the_analyst_csv_has_numbers_only_in_count_columns_and_no_timings(report):
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert not any(c.startswith("mean_") or c.endswith("_s") for c in rows[0])
    assert any(line["suppressed"] for line in rows)
    for line in rows:
        for m in report.measures:
            assert line[m] == "" or line[m].isdigit(), (m, line[m])
        assert SUPPRESSED not in line.values()


def test_a_finished_campaign_shows_zero_pending_everywhere():
    agg = aggregate(cohort(25, seed=3), by=BY)
    done = build_report("done", agg, by=BY, min_cell=11,
                        pending={"region-0": 0, "region-1": 0, "region-2": 0})
    assert {r.counts["pending"] for r in done.rows if "pending" in r.counts} == {0}
    assert any(r.counts["seen"] is None for r in done.rows)  # hidden seen, pending still 0


def test_table(report):
    text = render(report, "table")
    assert text.splitlines()[0].startswith("campaign north-2027q1")
    assert "region-0" in text and SUPPRESSED in text
    for number in re.findall(r"(?<![\w.-])(\d+)(?![\w.%-])", "\n".join(text.splitlines()[2:])):
        assert not 0 < int(number) < 11 or number == "4", number  # "4" only as a header


def test_html_is_self_contained_with_plots_and_no_hidden_bar(report):
    html = render(report, "html")
    assert html.startswith("<!DOCTYPE html>")
    for banned in ("http://", "https://", "<script", "<link", " src=", "@import"):
        assert banned not in html
    assert html.count("<svg") >= 5
    for title in ("Lung-RADS category mix", "Positive rate", "Progress", "Quarantine reasons"):
        assert title in html
    for row in report.rows_at(report.by):  # the charts draw the table's own grouping
        for m, v in row.counts.items():
            if m.startswith("category.") and v is None:
                # a hidden category has no segment of its own (no tooltip names it)
                assert f"{row.label}: {CATEGORY_NAMES[m]} " not in html
            elif m.startswith("category.") and v:
                assert f"{row.label}: {CATEGORY_NAMES[m]} {v} of " in html


def test_tiny_campaign_hides_everything_small():
    results = [screened("north", "n1", (solid(9.0),), i=i) for i in range(5)]
    report = build_report("tiny", aggregate(results), min_cell=11)
    for row in report.rows:
        assert all(v in (None, 0) for v in row.counts.values()), row
    html = render(report, "html")
    assert ">5<" not in html and "suppressed" in html
    assert "Too few results to publish yet" in html  # says why the charts are empty
    with pytest.raises(ValueError, match="expected one of"):
        render(report, "pdf")


def test_cli_report_reads_the_store(tmp_path, results, capsys):
    url = f"sqlite:///{tmp_path / 'results.db'}"
    with ResultsStore.open(url) as store:
        store.ensure_campaign("north-2027q1", spec_digest="d", model_name="lung_nodule_detector",
                              model_version="1")
        store.commit_results("north-2027q1", results)
    assert main(["report", "north-2027q1", "--store", url, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["groups"][0]["counts"]["seen"] == 700
    out = tmp_path / "r.html"
    assert main(["report", "north-2027q1", "--store", url, "--by", "region,sex",
                 "--format", "html", "--out", str(out)]) == 0
    assert out.read_text().count("<svg") >= 5
    assert main(["report", "north-2027q1", "--store", url, "--by", "postcode"]) == 2
    assert "postcode" in capsys.readouterr().err
    assert main(["report", "nope", "--store", url]) == 2
    assert "north-2027q1" in capsys.readouterr().err
    assert main(["report", "north-2027q1", "--store", url, "--min-cell", "5"]) == 2


@pytest.mark.slow
def test_cli_report_store_without_a_spec_uses_the_deployment_floor(tmp_path, results, capsys):
    url = f"sqlite:///{tmp_path / 'results.db'}"
    with ResultsStore.open(url) as store:
        store.ensure_campaign("north-2027q1", spec_digest="d", model_name="lung_nodule_detector",
                              model_version="1")
        store.commit_results("north-2027q1", results)
    assert main(["report", "north-2027q1", "--store", url, "--by", "region,site,age_band,sex",
                 "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["min_cell"] == 11
    for group in doc["groups"]:
        assert all(v is None or v == 0 or v >= 11 for k, v in group["counts"].items()
                   if k != "pending")
    for low in ("1", "10"):
        assert main(["report", "north-2027q1", "--store", url, "--min-cell", low]) == 2
        assert f"--min-cell {low} is below the deployment's floor 11" in capsys.readouterr().err
    assert main(["report", "north-2027q1", "--store", url, "--min-cell", "15",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["min_cell"] == 15


def test_cli_report_finds_the_store_and_threshold_in_the_spec(tmp_path, results, capsys):
    from tests.campaign_helpers import write_spec

    data = tmp_path / "data"
    spec = write_spec(tmp_path / "spec.yaml", {"region-0": [tmp_path / "nowhere"]},
                      campaign_id="north-2027q1", data_dir=str(data),
                      privacy={"min_cell": 20})
    with ResultsStore.open(f"sqlite:///{data / 'results.db'}") as store:
        store.ensure_campaign("north-2027q1", spec_digest="d", model_name="lung_nodule_detector",
                              model_version="1")
        store.commit_results("north-2027q1", results)
    assert main(["report", "north-2027q1", "--spec", str(spec), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["min_cell"] == 20
    for group in doc["groups"]:
        assert all(v is None or v == 0 or v >= 20 for k, v in group["counts"].items()
                   if k != "pending")
    assert main(["report", "north-2027q1", "--spec", str(spec), "--min-cell", "11"]) == 2
    assert "below the campaign's threshold 20" in capsys.readouterr().err
    assert main(["report", "other-id", "--spec", str(spec)]) == 2


def test_campaign_report_reads_progress_and_throughput(tmp_path, results):
    from jobs.report.build import campaign_report
    from jobs.run.planning import plan_shards
    from kernel.records import StudyRecord

    records = [StudyRecord(r.study_pid, r.patient_pid, r.region, r.site, r.age_band, r.sex)
               for r in results]
    by_pid = {r.study_pid: r for r in results}
    shards = list(plan_shards(records, 50))
    with ResultsStore.open(f"sqlite:///{tmp_path / 'results.db'}") as store:
        store.ensure_campaign("c1", spec_digest="d", model_name="lung_nodule_detector",
                              model_version="1")
        store.record_plan("c1", shards)
        done = shards[::2]
        for shard in done:
            store.commit_shard("c1", shard.shard_id, [by_pid[p] for p in shard.study_pids])
        report = campaign_report(store, "c1", by=("region",))
    waiting = {}
    for shard in shards[1::2]:
        waiting[shard.region] = waiting.get(shard.region, 0) + shard.study_count
    total = report.rows_at(())[0]
    assert total.counts["seen"] == sum(s.study_count for s in done)
    assert total.counts["pending"] == sum(waiting.values())
    for row in report.rows_at(("region",)):
        if row.counts["seen"] is not None:
            assert row.counts["pending"] == waiting.get(row.key[0], 0)
    assert report.studies_per_second is not None and report.studies_per_second > 0


_GROUPINGS = (("region",), ("region", "sex"), ("region", "site"), ("region", "site", "sex"))


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 40), seed=st.integers(0, 10_000), regions=st.integers(1, 3),
       sites=st.integers(1, 3), min_cell=st.sampled_from([2, 3, 4, 5, 7, 11]),
       by=st.sampled_from(_GROUPINGS))
@example(n=6, seed=0, regions=3, sites=1, min_cell=2, by=("region",))
@example(n=6, seed=0, regions=3, sites=1, min_cell=3, by=("region", "sex"))
def test_any_small_campaign_renders_and_no_hidden_count_can_be_recovered(
    n, seed, regions, sites, min_cell, by
):
    """Random small campaigns, thresholds and groupings (`lungscreen report` crashed on 6
    studies at --min-cell 2-5): the report always builds and renders, every small count is
    hidden, and from what is published no hidden small count can be pinned to fewer than
    `protection_span` values (ranges computed here from the published cells)."""
    from jobs.report.suppression import feasible_ranges, protection_span

    results = cohort(n, seed=seed, regions=regions, sites=sites)
    agg = aggregate(results, by=by)
    report = build_report("prop", agg, by=by, min_cell=min_cell)
    for fmt in ("table", "csv", "json", "html"):
        assert render(report, fmt)
    cube = build_cube(agg, by)
    published = _published(report)
    # unknowns: the hidden cells, and the non-zero ones the report does not show (margins of
    # groupings it leaves out); a reader is granted more than they have (unshown zeros, and
    # that unshown cells are >= 1), so wide ranges here are wide for them
    unknown = {c for c, v in cube.values.items()
               if published.get(c) is None and (c in published or v > 0)}
    small = sorted((c for c, v in cube.values.items() if 0 < v < min_cell), key=repr)
    assert [c for c in small if published.get(c) is not None] == []
    ranges = feasible_ranges(cube.values, cube.lines, unknown, of=small)
    span = protection_span(min_cell)
    narrow = {c: ranges[c] for c in small if ranges[c][1] - ranges[c][0] < span}
    assert narrow == {}


def test_the_html_says_when_what_and_how_to_read_it(results):
    from datetime import UTC, datetime

    by = ("region", "sex")
    report = build_report("north-2027q1", aggregate(results, by=by), by=by, min_cell=11,
                          studies_per_second=2.5, model="lung_nodule_detector v1",
                          period=(datetime(2027, 1, 4, tzinfo=UTC),
                                  datetime(2027, 3, 29, tzinfo=UTC)))
    html = render(report, "html")
    assert "Generated 20" in html and "model lung_nodule_detector v1" in html
    assert "results committed 2027-01-04 00:00 UTC to 2027-03-29 00:00 UTC" in html
    for term in ("seen", "screened", "positive", "quarantined", "suppressed"):
        assert f"<dt>{term}</dt>" in html
    assert "not a diagnosis" in html
    assert "region-0 / F" in html and "region-0 / M" in html  # rows told apart by name
    cards = html.split('<div class="cards">')[1].split("</div></div>")[0]
    assert "studies / s" not in cards and "studies per second" not in cards
    assert "studies per second" not in html  # an ops figure: not on the analysts' page


def test_parquet_keeps_counts_numeric_with_nulls_where_hidden(report, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from jobs.report.formats import to_parquet

    path = tmp_path / "r.parquet"
    to_parquet(report, path)
    table = pq.read_table(path)
    assert table.num_rows == len(report.rows)
    assert table.schema.field("seen").type == pa.int64()
    assert table.schema.metadata[b"schema_version"] == b"3"
    seen = table.column("seen").to_pylist()
    assert seen == [r.counts["seen"] for r in report.rows]
    hidden = 0
    for m in report.measures:
        column = table.column(m).to_pylist()
        assert column == [r.counts.get(m) for r in report.rows], m
        hidden += column.count(None)
    assert hidden > 0
