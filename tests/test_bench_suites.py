"""`lungscreen bench` reaches every suite through bench.suites, typed, with no import by name."""

from __future__ import annotations

import json

import pytest

from bench.suites import SUITES, SuiteOptions, TextFigures
from cli.main import build_parser


def test_the_command_offers_exactly_the_registered_suites():
    parser = build_parser()
    args = parser.parse_args(["bench", "report", "--runs", "1"])
    assert args.suite == "report"
    bench = next(a for a in parser._subparsers._group_actions[0].choices["bench"]._actions
                 if a.dest == "suite")
    assert tuple(bench.choices) == tuple(SUITES)
    assert {"campaign", "ingest", "model", "triton", "metrics", "report"} <= set(SUITES)


def test_a_suite_runs_with_the_commands_options_and_prints_both_ways():
    figures = SUITES["report"].run(SuiteOptions(runs=1, studies=12))
    data = json.loads(figures.to_json())
    assert data["studies"] == 12 and data["runs"] == 1
    assert figures.lines()[0].startswith("report:")


def test_text_figures_render_their_data():
    f = TextFigures("t", {"a": 1})
    assert f.lines() == ["t", "{", '  "a": 1', "}"]
    assert json.loads(f.to_json()) == {"a": 1}


def test_the_release_suite_measures_derives_and_compares(capsys):
    """A small campaign through the whole suite: figures present and sane, never timed."""
    from cli.main import main

    figures = SUITES["release"].run(SuiteOptions(runs=1, results=(2_000,), tables=20))
    (size,) = json.loads(figures.to_json())["sizes"]
    assert size["results"] == 2_000 and size["measure_s"] > 0
    assert size["tables"]["count"] == 20 and size["tables"]["identical"] is True
    assert size["tables"]["increments"] == 5
    assert set(size["cell_error"]) == {"campaign", "region", "site"}
    assert all(e["n"] > 0 for e in size["cell_error"].values())
    assert size["positive_rate_error_pp"]["n"] >= 1  # the campaign: 1,700 screened
    assert figures.lines()[0].startswith("release:")
    assert main(["bench", "release", "--results", "1500", "--runs", "1", "--tables", "3",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["sizes"][0]["tables"]["count"] == 3


def test_the_release_suites_sizes_are_checked():
    parser = build_parser()
    assert parser.parse_args(["bench", "release", "--results", "10_000,2000"]).results == (
        10_000, 2_000)
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "release", "--results", "0"])


def test_the_audit_suite_appends_verifies_and_compares_with_a_plain_insert():
    from bench.audit import run_audit_bench

    bench = run_audit_bench(runs=1, sizes=(50,))
    (row,) = bench.rows
    assert row.events == 50 and row.append_ms_per_event > 0 and row.baseline_ms_per_event > 0
    assert row.verify_ms_per_1000 > 0 and row.head_check_ms > 0
    assert "plain insert" in bench.lines()[1]
    assert json.loads(bench.to_json())["rows"][0]["append_ratio"] == pytest.approx(
        row.append_ratio)


def test_the_service_suite_serves_analysts_and_compares_with_healthz():
    """A small campaign through the whole suite: a real service process, every request
    answered, each figure present; never timed."""
    from bench.service import ServiceBenchOptions, run_service_bench

    figures = run_service_bench(ServiceBenchOptions(results=1_500, analysts=4, rounds=2,
                                                    runs=1))
    (run,) = json.loads(figures.to_json())["runs"]
    assert run["errors"] == 0
    assert {k: run[k]["n"] for k in ("page", "report", "healthz", "alone")} == {
        "page": 8, "report": 8, "healthz": 8, "alone": 10}
    assert figures.lines()[0].startswith("service: 4 concurrent analysts")


def test_the_clinical_suite_builds_and_sends_to_a_real_orthanc():
    """Two studies through the whole suite (a real Orthanc started by the bench); figures
    present, never timed."""
    figures = SUITES["clinical"].run(SuiteOptions(runs=1, studies=2))
    data = json.loads(figures.to_json())
    assert data["studies"] == 2 and data["runs"] == 1
    assert all(data[k] > 0 for k in ("build_ms", "write_baseline_ms", "stow_new_ms",
                                     "rest_post_baseline_ms", "stow_present_ms"))
    assert figures.lines()[0].startswith("clinical outputs:")


@pytest.mark.slow
def test_the_rounds_suite_times_the_comparison_against_the_model():
    """Two people through the whole suite: the detector on both rounds, the comparison's
    stages timed; nodules carried over are matched and measured side by side."""
    figures = SUITES["rounds"].run(SuiteOptions(runs=1, studies=2, device="cpu"))
    data = json.loads(figures.to_json())
    assert data["studies"] == 2 and data["device"] == "cpu"
    assert set(data["medians_s"]) == {"model", "box", "register", "beside_and_read"}
    assert all(v > 0 for v in data["medians_s"].values())
    assert data["matched_pairs"] >= 1
    assert data["share"] == pytest.approx(data["compare_s"] / data["medians_s"]["model"])
    assert figures.lines()[0].startswith("rounds:")
