"""`lungscreen bench` reaches every suite through bench.suites, typed, with no import by name."""

from __future__ import annotations

import json

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
