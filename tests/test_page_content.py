"""What the page shows, over real HTTP: the released numbers (the API's), progress from
released counts only, a token's scope (404 outside it), hostile names escaped, a bearer
token as good as the cookie, 401 as a redirect to sign in, every page audited."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from markupsafe import escape

from jobs.release import measure_increment
from jobs.service import ServiceConfig
from kernel.roles import Role
from tests.page_helpers import csrf_of, sign_in
from tests.report_results import opted_out, screened, sites_of
from tests.service_helpers import Service, running_service, seeded_store

CID, OTHER, UNMEASURED = "c-1", "c-2", "c-3"
EVIL_ID = 'x"><svg onload=alert(1)>'
EVIL_REGION = "<script>alert('region')</script>"
EVIL_SITE = "\"><img src=x onerror=alert('site')>"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, dict, object]]:
    folder: Path = tmp_path_factory.mktemp("page-content")
    with seeded_store(folder, [CID, OTHER], studies=120) as (store, key, tokens):
        hostile = [screened(EVIL_REGION, EVIL_SITE, i=i) for i in range(30)]
        hostile += [opted_out(EVIL_REGION, EVIL_SITE, i=i) for i in range(3)]
        store.ensure_campaign(EVIL_ID, spec_digest="d", model_name="m", model_version="1",
                              sites=sites_of(hostile))
        store.commit_results(EVIL_ID, hostile)
        assert measure_increment(store, EVIL_ID) is not None
        store.ensure_campaign(UNMEASURED, spec_digest="d", model_name="m", model_version="1")
        tokens["scoped"] = store.create_token("scoped-analyst", Role.ANALYST, key=key,
                                              campaigns=[CID])
        with running_service(ServiceConfig(store, token_key=key)) as svc:
            yield svc, tokens, store


def test_the_page_shows_the_apis_released_numbers_and_released_progress(served) -> None:
    svc, tokens, store = served
    browser = sign_in(svc.url, tokens[Role.ANALYST])
    page = browser.get(f"{svc.url}/campaigns/{CID}?by=region,sex").text
    api = svc.call("GET", f"/api/v1/campaigns/{CID}/report?by=region,sex",
                   tokens[Role.ANALYST]).json()
    for group in api["groups"]:
        label = " / ".join(group["key"][d] for d in group["level"]) or "all"
        cells = "".join(f"<td>{group['counts'][m]}</td>" for m in api["measures"])
        assert f"{label}</td>{cells}" in page
    total = api["groups"][0]["counts"]
    assert f"{total['seen']:,} studies seen in 1 released increment" in " ".join(page.split())
    # the exact progress per region (the authority's and ops') is not on the page
    exact = store.progress(CID)
    assert "pending" not in page.lower() and "shards" not in page.lower()
    assert sum(p.studies_done + p.studies_settled_early for p in exact.values()) == 120
    assert '<option value="region,sex" selected>' in page
    for fmt in ("csv", "json", "parquet"):
        href = f"/api/v1/campaigns/{CID}/report?by=region%2Csex&amp;format={fmt}"
        assert f'href="{href}"' in page
        got = browser.get(svc.url + html.unescape(href))
        assert got.status_code == 200 and "attachment" in got.headers.get(
            "content-disposition", "attachment")


def test_a_scope_lists_its_campaigns_and_hides_the_others(served) -> None:
    svc, tokens, _ = served
    browser = sign_in(svc.url, tokens["scoped"])
    listing = browser.get(svc.url + "/campaigns").text
    assert f'href="/campaigns/{CID}"' in listing and OTHER not in listing
    hidden = browser.get(f"{svc.url}/campaigns/{OTHER}")
    missing = browser.get(f"{svc.url}/campaigns/no-such")
    assert hidden.status_code == missing.status_code == 404  # the same answer for both
    assert hidden.headers["content-type"].startswith("text/html")
    assert browser.get(f"{svc.url}/campaigns/{CID}").status_code == 200


def test_hostile_names_are_escaped_everywhere(served) -> None:
    svc, tokens, _ = served
    browser = sign_in(svc.url, tokens[Role.ANALYST])
    path = "/campaigns/" + quote(EVIL_ID, safe="")
    pages = {"list": browser.get(svc.url + "/campaigns"),
             "campaign": browser.get(f"{svc.url}{path}?by=region,site"),
             "exact": svc.call("GET", path + "/exact", tokens[Role.AUTHORITY]),
             "404": browser.get(svc.url + "/campaigns/" + quote(EVIL_REGION, safe=""))}
    assert [p.status_code for p in pages.values()] == [200, 200, 200, 404]
    for where, page in pages.items():
        for evil in (EVIL_ID, EVIL_REGION, EVIL_SITE, "<script", "onerror=", "onload="):
            if evil in ("onerror=", "onload="):
                assert f"<img src=x {evil}" not in page.text and f"<svg {evil}" not in page.text
            else:
                assert evil not in page.text, (where, evil)
    for shown in (EVIL_REGION, EVIL_SITE):
        assert str(escape(shown)) in pages["campaign"].text  # shown, as text


def test_a_bearer_token_works_on_pages_and_401_sends_the_browser_to_sign_in(served) -> None:
    svc, tokens, store = served
    page = svc.call("GET", f"/campaigns/{CID}", tokens[Role.ANALYST])
    assert page.status_code == 200 and "<h1>" in page.text
    assert 'action="/signout"' not in page.text  # no session to end
    for token in (None, "ls_" + "0" * 32 + "_" + "A" * 43):
        got = svc.call("GET", f"/campaigns/{CID}", token, allow_redirects=False)
        assert got.status_code == 303 and got.headers["location"] == "/"
    api = svc.call("GET", f"/api/v1/campaigns/{CID}/report")
    assert api.status_code == 401 and api.json()["detail"]  # the API stays JSON
    unmeasured = svc.call("GET", f"/campaigns/{UNMEASURED}", tokens[Role.ANALYST])
    assert unmeasured.status_code == 409 and "Not released yet" in unmeasured.text
    for role in (Role.OPS, Role.READER):  # a role with no page cannot sign in to one
        form = requests.Session()
        csrf = csrf_of(form.get(svc.url + "/").text)
        got = form.post(svc.url + "/signin", data={"token": tokens[role], "csrf": csrf},
                        allow_redirects=False)
        assert got.status_code == 403 and "has no page" in got.text
    events = [e.detail for e in store.events() if e.kind == "api_request"]
    pages = [(d["route"], d["status"], d["who"]) for d in events
             if d["route"].startswith("/campaigns")]
    assert ("/campaigns/{campaign_id}", 200, "analyst-tok") in pages
    assert ("/campaigns/{campaign_id}", 303, "") in pages
    assert ("/campaigns/{campaign_id}", 409, "analyst-tok") in pages
    released = [d for d in events if d.get("format") == "page"]
    assert released and all(d["table"] in ("released", "exact") for d in released)


def test_an_analyst_picks_a_period_and_the_downloads_follow(served) -> None:
    """The period chooser: every increment (the default) or one; the table and the download
    links are the API's for the same period."""
    from tests.report_results import cohort

    svc, tokens, store = served
    cid = "c-periods"
    results = cohort(160, seed=9)
    store.ensure_campaign(cid, spec_digest="d", model_name="m", model_version="1",
                          sites=sites_of(results))
    for part in (results[:90], results[90:]):
        store.commit_results(cid, part)
        assert measure_increment(store, cid) is not None
    browser = sign_in(svc.url, tokens[Role.ANALYST])
    for period, seen in (("2", "70"), ("", "160")):
        page = browser.get(f"{svc.url}/campaigns/{cid}?by=region&increments={period}").text
        assert page.count('<option value="2"') == 1 and "every increment" in page
        api = svc.call("GET", f"/api/v1/campaigns/{cid}/report?by=region&increments={period}",
                       tokens[Role.ANALYST]).json()
        total = api["groups"][0]["counts"]
        assert f"<td>all</td><td>{total['seen']}</td>" in page
        assert f'<option value="{period}" selected>' in page
        suffix = f"&amp;increments={period}" if period else ""
        assert f"report?by=region{suffix}&amp;format=csv" in page
        assert abs(total["seen"] - int(seen)) <= 40  # noisy, about the period's results
