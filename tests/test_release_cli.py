"""`lungscreen release measure` and `lungscreen report --released`, in-process over a SQLite
store of synthetic results."""

from __future__ import annotations

import json

import pytest

from cli.main import main
from jobs.release import DEFAULT_RHO
from jobs.store import ResultsStore
from tests.report_results import cohort
from tests.store_helpers import audit_key

CAMPAIGN_ID = "north-2027q1"
SIGMA = (12 / (2 * DEFAULT_RHO)) ** 0.5  # 3 levels x 4 query families


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'results.db'}"
    with ResultsStore.open(url, audit_key=audit_key()) as store:
        store.ensure_campaign(CAMPAIGN_ID, spec_digest="d", model_name="lung_nodule_detector",
                              model_version="1")
    return url


def _commit(url, results):
    with ResultsStore.open(url, audit_key=audit_key()) as store:
        store.commit_results(CAMPAIGN_ID, results)


def test_measure_then_report_released(url, capsys):
    results = cohort(500, seed=5)
    assert main(["release", "measure", CAMPAIGN_ID, "--store", url]) == 0
    assert "nothing measured" in capsys.readouterr().out
    _commit(url, results[:300])
    assert main(["release", "measure", CAMPAIGN_ID, "--store", url]) == 0
    out = capsys.readouterr().out
    assert "increment 1 measured: 300 results" in out
    assert f"sigma {SIGMA:.4g}, rho {DEFAULT_RHO:g}" in out
    assert main(["release", "measure", CAMPAIGN_ID, "--store", url]) == 0
    assert "nothing measured" in capsys.readouterr().out
    _commit(url, results[300:])
    assert main(["release", "measure", CAMPAIGN_ID, "--store", url]) == 0
    assert "increment 2 measured: 200 results" in capsys.readouterr().out

    argv = ["report", CAMPAIGN_ID, "--store", url, "--released", "--by", "region,sex"]
    assert main([*argv, "--format", "json"]) == 0
    first = capsys.readouterr().out
    doc = json.loads(first)
    assert doc["privacy"]["mechanism"] == "discrete_gaussian"
    assert doc["privacy"]["rho"] == DEFAULT_RHO
    assert doc["privacy"]["rho_total"] == pytest.approx(2 * DEFAULT_RHO)
    assert doc["privacy"]["sigma"] == pytest.approx(SIGMA)
    assert [i["increment"] for i in doc["privacy"]["increments"]] == [1, 2]
    assert {tuple(g["level"]) for g in doc["groups"]} == {(), ("region",), ("region", "sex")}
    assert all(set(g) >= {"level", "key", "counts"} for g in doc["groups"])
    assert main([*argv, "--format", "json"]) == 0
    assert capsys.readouterr().out == first  # byte-identical
    assert main([*argv, "--format", "csv", "--increments", "2"]) == 0
    csv_out = capsys.readouterr().out
    assert csv_out.startswith("level,region,sex,seen,") and csv_out.rstrip().endswith(",2")
    assert main([*argv]) == 0
    out = capsys.readouterr().out
    assert f"discrete_gaussian noise, sigma {SIGMA:.3g}, rho {DEFAULT_RHO:g}" in out


@pytest.mark.parametrize("extra", [["--format", "parquet"], ["--increments", "7"],
                                   ["--increments", "x"], ["--min-cell", "20"]])
def test_released_refuses_what_it_cannot_answer(url, extra, capsys):
    _commit(url, cohort(50, seed=1))
    assert main(["release", "measure", CAMPAIGN_ID, "--store", url]) == 0
    assert main(["report", CAMPAIGN_ID, "--store", url, "--released", *extra]) == 2
    assert "error" in capsys.readouterr().err


def test_released_before_any_increment_and_unknown_campaigns(url, capsys):
    assert main(["report", CAMPAIGN_ID, "--store", url, "--released"]) == 2
    assert "release measure" in capsys.readouterr().err
    assert main(["release", "measure", "nope", "--store", url]) == 2
    assert main(["report", CAMPAIGN_ID, "--store", url, "--increments", "1"]) == 2
