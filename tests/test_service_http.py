"""The report route in HTTP terms, over real HTTP and a real store: errors name the query
parameter (never a CLI flag) and the threshold's source (the deployment floor or the
campaign's own); `format` and `Accept` pick JSON, CSV, Parquet or HTML for the analyst's
released table and the authority's exact one; 406 and 400 for what it cannot serve; the
format is audited."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from jobs.release import released_table, render_released, to_parquet
from jobs.report.build import campaign_report
from jobs.report.formats import render
from jobs.service import ServiceConfig
from jobs.spec.campaign_spec import load_spec
from kernel.roles import Role
from tests.campaign_helpers import write_spec
from tests.service_helpers import running_service, seeded_store

A, B, C = "http-a", "http-b", "http-c"  # no spec; spec min_cell 20; spec min_cell 12
FLOOR = 15
EXPECTED = "expected a comma-separated list of region, site, age_band, sex"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("http")
    specs = {cid: load_spec(write_spec(tmp / f"{cid}.yaml", {"region-0": [tmp / "none"]},
                                       campaign_id=cid, privacy={"min_cell": n}),
                            check_paths=False)
             for cid, n in ((B, 20), (C, 12))}
    with seeded_store(tmp, (A, B, C)) as (store, key, tokens), \
            running_service(ServiceConfig(store, specs, FLOOR, token_key=key)) as svc:
        yield svc, tokens, store


def _report(service: Any, role: Role, cid: str = A, query: str = "",
            **kwargs: Any) -> Any:
    svc, tokens, _ = service
    return svc.call("GET", f"/api/v1/campaigns/{cid}/report{query}", tokens[role], **kwargs)


@pytest.mark.parametrize(("by", "detail"), [
    ("county", f"query parameter 'by': unknown dimension 'county'; {EXPECTED}"),
    ("region,region", f"query parameter 'by': dimension 'region' is given twice; {EXPECTED}, "
                      "each once"),
    (",", f"query parameter 'by' is empty; {EXPECTED}"),
])
def test_a_bad_grouping_names_the_query_parameter(service, by, detail):
    for role in (Role.ANALYST, Role.AUTHORITY):
        got = _report(service, role, query=f"?by={by}")
        assert got.status_code == 400 and got.json() == {"detail": detail}


@pytest.mark.parametrize(("cid", "asked", "source"), [
    (A, 12, "the deployment floor 15"),  # no spec: the service's floor
    (B, 16, "campaign http-b's threshold 20"),  # the campaign's, above the floor
    (C, 13, "the deployment floor 15"),  # the campaign's 12 is under the floor: the floor
])
def test_a_threshold_below_the_one_in_force_names_its_source(service, cid, asked, source):
    got = _report(service, Role.AUTHORITY, cid, f"?min_cell={asked}")
    detail = got.json()["detail"]
    assert got.status_code == 400
    assert detail.startswith(f"query parameter 'min_cell': {asked} is below {source}; ")
    assert "--" not in detail


def test_the_threshold_in_force_and_a_raised_one_are_used(service):
    assert _report(service, Role.AUTHORITY, A).json()["min_cell"] == FLOOR
    assert _report(service, Role.AUTHORITY, B).json()["min_cell"] == 20
    assert _report(service, Role.AUTHORITY, B, "?min_cell=25").json()["min_cell"] == 25


def test_json_is_the_default_and_csv_is_served_on_request(service):
    _, _, store = service
    released = render_released(released_table(store, A, by=("region", "sex")), "csv")
    exact = render(campaign_report(store, A, by=("region", "sex"), min_cell=FLOOR), "csv")
    for role, csv in ((Role.ANALYST, released), (Role.AUTHORITY, exact)):
        default = _report(service, role, query="?by=region,sex")
        assert default.headers["content-type"] == "application/json"
        assert default.headers["vary"] == "Accept" and default.json()["by"] == ["region", "sex"]
        by_query = _report(service, role, query="?by=region,sex&format=csv")
        by_accept = _report(service, role, query="?by=region,sex",
                            headers={"Accept": "text/csv"})
        for got in (by_query, by_accept):
            assert got.status_code == 200, got.text
            assert got.headers["content-type"].startswith("text/csv")
            assert got.text == csv, role
            assert 'filename="http-a-by-region-sex.csv"' in got.headers["content-disposition"]
        wins = _report(service, role, query="?format=json", headers={"Accept": "text/csv"})
        assert wins.headers["content-type"] == "application/json"


def test_an_analyst_picks_a_period_of_whole_increments(service):
    _, _, store = service
    want = render_released(released_table(store, A, by=("sex",), increments=[1]), "csv")
    got = _report(service, Role.ANALYST, query="?by=sex&increments=1&format=csv")
    assert got.status_code == 200 and got.text == want
    assert _report(service, Role.ANALYST, query="?increments=9").status_code == 409
    bad = _report(service, Role.ANALYST, query="?increments=1;DROP")
    assert bad.status_code == 400 and "query parameter 'increments'" in bad.json()["detail"]
    exact = _report(service, Role.AUTHORITY, query="?increments=1")
    assert exact.status_code == 400 and "every result" in exact.json()["detail"]


def test_analysts_download_the_released_table_as_parquet_and_html(service):
    """The same released table in every format: the download is the export's bytes."""
    _, _, store = service
    table = released_table(store, A, by=("region", "sex"))
    for fmt, media, body in (("parquet", "application/vnd.apache.parquet", to_parquet(table)),
                             ("html", "text/html", render_released(table, "html").encode())):
        got = _report(service, Role.ANALYST, query=f"?by=region,sex&format={fmt}")
        assert got.status_code == 200, got.text
        assert got.headers["content-type"].startswith(media)
        assert got.content == body
        assert f'filename="http-a-by-region-sex.{fmt}"' in got.headers["content-disposition"]
    exact = _report(service, Role.AUTHORITY, query="?format=parquet")
    assert exact.status_code == 200 and exact.content.startswith(b"PAR1")


def test_what_the_route_cannot_serve_is_406_or_400(service):
    for role in (Role.ANALYST, Role.AUTHORITY):
        refused = _report(service, role, headers={"Accept": "application/xml"})
        assert refused.status_code == 406
        assert "text/csv" in refused.json()["detail"]
        unknown = _report(service, role, query="?format=xlsx")
        assert unknown.status_code == 400
        assert unknown.json()["detail"] == ("query parameter 'format': unknown format "
                                            "'xlsx'; expected one of json, csv, parquet, html")
    assert _report(service, Role.ANALYST, headers={"Accept": "text/*"}).headers[
        "content-type"].startswith("text/csv")


def test_the_format_is_audited_with_the_table(service):
    _, _, store = service
    assert _report(service, Role.ANALYST, C, "?format=csv").status_code == 200
    assert _report(service, Role.AUTHORITY, C, headers={"Accept": "text/csv"}).status_code == 200
    events = [e.detail for e in store.events(C) if e.kind == "api_request"
              and e.detail["status"] == 200]
    assert {(e["table"], e["format"]) for e in events} >= {("released", "csv"),
                                                           ("exact", "csv")}
