"""The analysts' page in a real browser: Debian's Chromium driven by Playwright (no browser
download), against `lungscreen serve` over a store with a measured increment. An analyst
signs in through the form, reads the numbers the API returns, switches the grouping,
downloads the CSV, is refused the authority's page; screenshots at 1,400 and 420 px wide go
to the artefact folder ($LUNGSCREEN_ARTIFACTS, else .artifacts/ in the repository)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from jobs.service import ServiceConfig
from kernel.roles import Role
from tests.service_helpers import running_service, seeded_store

CHROMIUM = Path("/usr/bin/chromium")
CID = "north-south-2027q1"

pytestmark = [pytest.mark.integration,  # about 8 s here
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not "
                                 "installed (apt-get install chromium; .ci/setup does)")]


def _artifacts() -> Path:
    root = Path(os.environ.get("LUNGSCREEN_ARTIFACTS")
                or Path(__file__).resolve().parents[1] / ".artifacts")
    root.mkdir(parents=True, exist_ok=True)
    return root


def _table(page: Any) -> list[list[str]]:
    """The page's table, one list of cell texts per row (the indentation stripped)."""
    rows = page.locator("section table tbody tr")
    return [[c.strip() for c in rows.nth(i).locator("td").all_inner_texts()]
            for i in range(rows.count())]


def _api_rows(report: dict[str, Any]) -> list[list[str]]:
    """The API's released JSON as the page's table shows it: group, then each measure."""
    return [[" / ".join(g["key"][d] for d in g["level"]) or "all",
             *(str(g["counts"][m]) for m in report["measures"])] for g in report["groups"]]


def test_an_analyst_reads_switches_downloads_and_is_refused(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with seeded_store(tmp_path, [CID], studies=300) as (store, key, tokens), \
            running_service(ServiceConfig(store, token_key=key)) as svc, sync_playwright() as pw:
        analyst = tokens[Role.ANALYST]

        def api(path: str) -> Any:
            got = svc.call("GET", f"/api/v1/campaigns/{CID}/report?{path}", analyst)
            assert got.status_code == 200, got.text
            return got

        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1400, "height": 900},
                                      accept_downloads=True)
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)

        # sign in through the form; the token never appears in a URL
        page.goto(svc.url + "/")
        page.fill("#token", analyst)
        page.click("button[type=submit]")
        page.wait_for_url(svc.url + "/campaigns")
        assert analyst not in page.url
        page.click(f"text={CID}")
        page.wait_for_url(f"{svc.url}/campaigns/{CID}")

        # the numbers on the page are the API's, grouping by region (the default)
        by_region = api("by=region&format=json").json()
        assert _table(page)[0][:len(by_region["measures"]) + 1] == _api_rows(by_region)[0]
        assert [r[:len(by_region["measures"]) + 1] for r in _table(page)] == \
            _api_rows(by_region)
        seen = f"{by_region['groups'][0]['counts']['seen']:,}"
        assert page.locator(".card b").first.inner_text() == seen
        page.screenshot(path=str(_artifacts() / "page-1400.png"), full_page=True)

        # switch the grouping with the chooser: a plain GET form
        page.select_option("#by", "region,site")
        page.click("form.inline button")
        page.wait_for_url("**by=region%2Csite&increments=")  # the period: every increment
        by_site = api("by=region,site&format=json").json()
        assert [r[:len(by_site["measures"]) + 1] for r in _table(page)] == _api_rows(by_site)

        # the CSV link (the session cookie works on the report route) is the API's CSV
        with page.expect_download() as download:
            page.click(".downloads a:text-is('CSV')")
        got = Path(download.value.path()).read_bytes()
        assert got == api("by=region,site&format=csv").content

        # usable at 420 px: nothing wider than the screen but the table's own scroller
        page.set_viewport_size({"width": 420, "height": 900})
        page.select_option("#by", "region,site,age_band,sex")
        page.click("form.inline button")
        page.wait_for_url("**by=region%2Csite%2Cage_band%2Csex&increments=")
        assert page.evaluate("document.documentElement.scrollWidth") <= 420
        page.screenshot(path=str(_artifacts() / "page-420.png"), full_page=True)
        page.emulate_media(media="print")  # printed: no navigation, forms or downloads
        assert not any(page.locator(s).is_visible() for s in ("nav", "#by", ".downloads"))
        page.emulate_media(media="screen")
        assert console == []  # no CSP violation, no failed request (a favicon included)

        # the authority's exact page refuses an analyst, in HTML
        refused = page.goto(f"{svc.url}/campaigns/{CID}/exact")
        assert refused is not None and refused.status == 403
        assert "Not for this role" in page.inner_text("h1")

        # signing out ends the session: the campaign page sends the browser to sign in
        page.goto(f"{svc.url}/campaigns")
        page.click("nav button")
        page.wait_for_url(svc.url + "/")
        page.goto(f"{svc.url}/campaigns/{CID}")
        assert page.url == svc.url + "/" and page.locator("#token").is_visible()
        browser.close()
