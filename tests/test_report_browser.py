"""The HTML reports in a real browser (Debian's Chromium, Playwright): the authority's exact
report, the analysts' released download and a second round's report (its transition chart),
each at 1,400 and 420 px wide. The document is
never wider than the screen (tables and charts scroll inside their sections), nothing is
fetched from anywhere, and the screenshots are kept in the artefact folder
($LUNGSCREEN_ARTIFACTS, else .artifacts/ in the repository) to be looked at."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from jobs.release import measure_increment, released_table, render_released
from jobs.report.aggregate import aggregate
from jobs.report.build import build_report
from jobs.report.formats import render
from jobs.store import ResultsStore
from kernel.followup import Change
from kernel.lungrads import Category
from kernel.records import Outcome, StudyResult
from kernel.rounds import NoduleReading, RoundReading
from tests.report_results import cohort, sites_of
from tests.store_helpers import audit_key
from tests.test_page_browser import CHROMIUM, _artifacts

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not "
                                 "installed (apt-get install chromium; .ci/setup does)")]

BY = ("region", "sex")


def _second_round(results: list[StudyResult]) -> list[StudyResult]:
    """`results` as a second round: most screens read against a prior whose category was
    the same, one lower or one higher (deterministic)."""
    order = list(Category)
    out = []
    for i, r in enumerate(results):
        if r.outcome is not Outcome.SCREENED or r.category is None or i % 5 == 0:
            out.append(r)
            continue
        step = (i % 3) - 1
        prior = order[min(max(order.index(r.category) + step, 1), 5)]
        reading = RoundReading(None, tuple(NoduleReading(Change.STABLE, r.category)
                                           for _ in r.nodules),
                               prior_study_pid=f"prior-{i}", prior_category=prior)
        out.append(dataclasses.replace(r, reading=reading))
    return out


def _pages(tmp_path: Path) -> dict[str, Path]:
    results = cohort(900, seed=5)
    exact = build_report("north-2027q1", aggregate(results, by=BY), by=BY, min_cell=11)
    with ResultsStore.open(f"sqlite:///{tmp_path / 'r.db'}", audit_key=audit_key()) as s:
        s.ensure_campaign("north-2027q1", spec_digest="d", model_name="m", model_version="1",
                          sites=sites_of(results))
        s.commit_results("north-2027q1", results)
        assert measure_increment(s, "north-2027q1") is not None
        released = render_released(released_table(s, "north-2027q1", by=BY), "html")
    later = build_report("north-2028q1", aggregate(_second_round(results), by=BY), by=BY,
                         min_cell=11)
    out = {"report-exact": render(exact, "html"), "report-released": released,
           "report-round-2": render(later, "html")}
    paths = {}
    for name, html in out.items():
        paths[name] = tmp_path / f"{name}.html"
        paths[name].write_text(html, encoding="utf-8")
    return paths


def test_the_reports_fit_a_phone_and_a_desktop(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        for name, path in _pages(tmp_path).items():
            for width in (1400, 420):
                page: Any = browser.new_page(viewport={"width": width, "height": 900})
                page.on("request", lambda r: requests.append(r.url))
                page.goto(path.as_uri())
                wide = page.evaluate("document.documentElement.scrollWidth")
                assert wide <= width, (name, width, wide)
                assert page.locator("svg").count() >= 2
                if name == "report-round-2":
                    assert page.locator("table.transitions td.tr").count() >= 4
                page.screenshot(path=str(_artifacts() / f"{name}-{width}.png"), full_page=True)
                page.close()
        browser.close()
    assert all(u.startswith("file://") or u.startswith("data:") for u in requests), requests
