"""`lungscreen bench scale` at N = 200: the same code as the measured runs (a multi-node Ray
cluster, the real Triton serving the load-test model, the metrics exporter, SQLite), checked
for completeness, never for speed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.suites import SUITES, SuiteOptions

KEYS = ("studies", "studies_per_s", "driver_cpu_ms_per_study", "driver_peak_rss_mb",
        "commit_p99_ms", "report_s", "scrape_s", "lost", "doubled")


@pytest.mark.integration
@pytest.mark.slow  # about 50 s here: a Ray cluster, Triton, 200 studies
def test_a_campaign_of_200_studies_commits_each_once_and_reports_every_figure(tmp_path: Path):
    from bench.scale import ScaleBenchOptions, run_scale_bench

    bench = run_scale_bench(ScaleBenchOptions(studies=200, nodes=2, workdir=tmp_path))
    figures = json.loads(bench.to_json())
    assert all(k in figures for k in KEYS)
    assert (figures["lost"], figures["doubled"], figures["foreign"]) == (0, 0, 0)
    assert figures["studies"] == 200 and sum(figures["outcomes"].values()) == 200
    assert figures["outcomes"].get("screened") == 200
    assert figures["commits"] == 10 and figures["commit_p99_ms"] >= figures["commit_p50_ms"] > 0
    assert figures["driver_peak_rss_mb"] > 0 and figures["store_mb_per_1000"] > 0
    assert figures["report_s"] > 0 and figures["scrape_s"] > 0 and figures["scrape_bytes"] > 0
    assert figures["driver_cpu_ms_per_study"] > 0 and figures["studies_per_s"] > 0
    lines = "\n".join(bench.lines())
    assert "lost 0, doubled 0" in lines and "driver CPU" in lines


def test_the_suite_is_registered_with_its_options():
    assert "scale" in SUITES
    assert SuiteOptions(nodes=3, store="postgresql://x").nodes == 3
